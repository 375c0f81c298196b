"""s3:// URIs: shape rules and redaction (no network)."""

import pytest

from nommer.core import s3uri
from nommer.core.errors import InvalidInput
from nommer.core.ports.storage import redact

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def test_plain_uri_parses_with_the_key_taken_literally():
    location = s3uri.parse("s3://media.example-1/in/My Clip%20(1).mov")
    assert (location.bucket, location.key) == ("media.example-1", "in/My Clip%20(1).mov")
    assert not location.has_credentials


def test_credentials_with_slash_and_plus_in_the_secret_parse():
    location = s3uri.parse(f"s3://AKIAEXAMPLE:{SECRET}@bucket/a@b/c.mp4")
    assert (location.key_id, location.secret) == ("AKIAEXAMPLE", SECRET)
    assert (location.bucket, location.key) == ("bucket", "a@b/c.mp4")
    assert SECRET not in repr(location) and "AKIAEXAMPLE" not in repr(location)
    assert location.shown() == "s3://***:***@bucket/a@b/c.mp4"


def test_percent_encoded_credentials_are_decoded():
    location = s3uri.parse("s3://AKIAEXAMPLE:ab%2Fcd%2B@bucket/k")
    assert location.secret == "ab/cd+"


@pytest.mark.parametrize("uri, message", [
    ("s3://", "names no bucket"),
    ("s3:///key.mp4", "names no bucket"),
    ("s3://bucket", "names no object key"),
    ("s3://bucket/", "names no object key"),
    ("s3://bucket/folder/", "ends with '/'"),
    ("s3://ab/key", "3 to 63 characters"),
    ("s3://" + "b" * 256 + "/key", "3 to 63 characters"),
    ("s3://my bucket/key", "lower-case letters"),
    ("s3://bu$ket/key", "lower-case letters"),
    ("s3://nommer_/key", "begin and end with a letter or digit"),
    ("s3://-bucket/key", "begin and end with a letter or digit"),
    ("s3://buck..et/key", "two dots in a row"),
    ("s3://192.168.1.10/key", "IP address"),
    ("s3://xn--bucket/key", "reserves"),
    ("s3://bucket/" + "k" * 1025, "longer than S3's 1024 bytes"),
    ("s3://AKIA:@bucket/key", "credentials in an s3 URI are KEY_ID:SECRET@"),
    ("http://bucket/key", "must be an s3://bucket/key URI"),
])
def test_bad_uris_are_refused_naming_the_field(uri, message):
    with pytest.raises(InvalidInput) as e:
        s3uri.parse(uri, "outputs[0].destination")
    assert e.value.field == "outputs[0].destination"
    assert message in str(e.value)


def _leaks(text):
    return "AKIAEXAMPLE" in text or "K7MDENG" in text or "EXAMPLEKEY" in text


@pytest.mark.parametrize("uri", [
    f"s3://AKIAEXAMPLE:{SECRET}@bucket/key",
    f"s3://AKIAEXAMPLE:{SECRET}@Bad_Bucket/key",
    f"s3://AKIAEXAMPLE:{SECRET}",
    f"s3://AKIAEXAMPLE:{SECRET}@bucket",
    f"s3://AKIAEXAMPLE:{SECRET}@bucket/folder/",
])
def test_no_part_of_the_keys_survives_redaction(uri):
    assert not _leaks(redact(uri))


@pytest.mark.parametrize("uri", [
    f"s3://AKIAEXAMPLE:{SECRET}@Bad$Bucket/key",
    f"s3://AKIAEXAMPLE:{SECRET}",
    f"s3://AKIAEXAMPLE:{SECRET}@bucket",
    f"s3://AKIAEXAMPLE:{SECRET}@bucket/folder/",
])
def test_no_part_of_the_keys_is_in_an_error(uri):
    with pytest.raises(InvalidInput) as e:
        s3uri.parse(uri, "source")
    assert not _leaks(str(e.value))


def test_redaction_keeps_uris_without_credentials():
    assert redact("s3://bucket/a:b@c.mp4") == "s3://bucket/a:b@c.mp4"
    assert redact("s3://user@bucket/k") == "s3://***@bucket/k"


@pytest.mark.parametrize("bucket", ["nommer_in", "nommer_out", "My_Bucket", "MEDIA", "a_b.c-d", "b" * 255])
def test_legacy_us_east_1_bucket_names_are_read_path_style(bucket):
    location = s3uri.parse(f"s3://{bucket}/in/clip.mov", "source")

    assert (location.bucket, location.key) == (bucket, "in/clip.mov")
    assert location.path_style is True


@pytest.mark.parametrize("bucket", ["nommer-in", "media.example.com", "abc", "b" * 63])
def test_todays_bucket_names_keep_virtual_hosted_addressing(bucket):
    assert s3uri.parse(f"s3://{bucket}/k", "source").path_style is False


def test_a_legacy_bucket_with_credentials_in_the_uri_parses():
    location = s3uri.parse(f"s3://AKIAEXAMPLE:{SECRET}@nommer_in/a.mov", "source")

    assert (location.bucket, location.key_id, location.path_style) == ("nommer_in", "AKIAEXAMPLE", True)
