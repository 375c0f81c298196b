"""PutAttributes, GetAttributes, DeleteAttributes and their batch forms."""

from nommer.testing.simpledb import limits

from .helpers import attributes, put, refusal


def pairs(count, name=lambda n: f"a{n:03d}", value=lambda n: "v"):
    return [{"Name": name(n), "Value": value(n)} for n in range(count)]


def test_put_adds_values_and_get_returns_them(sdb, domain):
    put(sdb, domain, "shirt", colour=["red", "blue"], size="M")
    put(sdb, domain, "shirt", colour="green")
    assert attributes(sdb, domain, "shirt") == {
        "colour": ["blue", "green", "red"], "size": ["M"]}


def test_a_name_value_pair_is_kept_once(sdb, domain):
    put(sdb, domain, "shirt", colour=["red", "red"])
    put(sdb, domain, "shirt", colour="red")
    assert attributes(sdb, domain, "shirt") == {"colour": ["red"]}
    assert sdb.domain_metadata(DomainName=domain)["AttributeValueCount"] == 1


def test_replace_swaps_every_value_of_the_name(sdb, domain):
    put(sdb, domain, "shirt", colour=["red", "blue"], size="M")
    put(sdb, domain, "shirt", replace=True, colour=["black", "white"])
    assert attributes(sdb, domain, "shirt") == {"colour": ["black", "white"], "size": ["M"]}


def test_get_can_ask_for_some_names_and_absent_items_are_empty(sdb, domain):
    put(sdb, domain, "shirt", colour="red", size="M", price="010")
    assert attributes(sdb, domain, "shirt", AttributeNames=["size", "price", "nope"]) == {
        "size": ["M"], "price": ["010"]}
    assert "Attributes" not in sdb.get_attributes(DomainName=domain, ItemName="nothing")


def test_text_round_trips_unchanged(sdb, domain):
    awkward = ["<tag attr=\"x\">&amp;</tag>", "line\r\nbreak\rreturn", "  spaced  ",
               "ünïcødé ✓ 日本", "", "'quotes'"]
    put(sdb, domain, "<item & name>", **{"odd name <&>": awkward})
    assert attributes(sdb, domain, "<item & name>") == {"odd name <&>": sorted(awkward)}


def test_delete_removes_values_names_or_whole_items(sdb, raw_sdb, domain):
    # boto3's model insists on a Value per attribute; the API does not, and
    # deleting a name without one deletes all its values.
    put(sdb, domain, "shirt", colour=["red", "blue"], size="M", price="010")
    sdb.delete_attributes(DomainName=domain, ItemName="shirt",
                          Attributes=[{"Name": "colour", "Value": "red"}])
    assert attributes(sdb, domain, "shirt") == {
        "colour": ["blue"], "size": ["M"], "price": ["010"]}
    raw_sdb.delete_attributes(DomainName=domain, ItemName="shirt",
                              Attributes=[{"Name": "size"}])
    assert attributes(sdb, domain, "shirt") == {"colour": ["blue"], "price": ["010"]}
    raw_sdb.delete_attributes(DomainName=domain, ItemName="shirt",
                              Attributes=[{"Name": "colour", "Value": "absent"},
                                          {"Name": "nope"}])
    assert attributes(sdb, domain, "shirt") == {"colour": ["blue"], "price": ["010"]}
    sdb.delete_attributes(DomainName=domain, ItemName="shirt")
    assert attributes(sdb, domain, "shirt") == {}
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0
    sdb.delete_attributes(DomainName=domain, ItemName="never-there")


def test_an_item_whose_last_value_is_deleted_is_gone(sdb, domain):
    put(sdb, domain, "shirt", colour="red")
    sdb.delete_attributes(DomainName=domain, ItemName="shirt",
                          Attributes=[{"Name": "colour", "Value": "red"}])
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0


def test_batch_put_and_batch_delete(sdb, raw_sdb, domain):
    sdb.batch_put_attributes(DomainName=domain, Items=[
        {"Name": f"item{n}", "Attributes": [{"Name": "n", "Value": str(n)},
                                            {"Name": "tag", "Value": "x"}]}
        for n in range(limits.MAX_BATCH_ITEMS)])
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 25
    sdb.batch_put_attributes(DomainName=domain, Items=[
        {"Name": "item0", "Attributes": [{"Name": "n", "Value": "zero", "Replace": True}]}])
    assert attributes(sdb, domain, "item0") == {"n": ["zero"], "tag": ["x"]}
    raw_sdb.batch_delete_attributes(DomainName=domain, Items=[
        {"Name": "item0", "Attributes": [{"Name": "tag"}]},
        {"Name": "item1"},
        {"Name": "item2", "Attributes": [{"Name": "n", "Value": "2"}]}])
    assert attributes(sdb, domain, "item0") == {"n": ["zero"]}
    assert attributes(sdb, domain, "item1") == {}
    assert attributes(sdb, domain, "item2") == {"tag": ["x"]}


def test_batches_are_limited_to_25_distinct_items(sdb, domain):
    too_many = [{"Name": f"i{n}", "Attributes": [{"Name": "a", "Value": "b"}]}
                for n in range(limits.MAX_BATCH_ITEMS + 1)]
    assert refusal(sdb.batch_put_attributes, DomainName=domain, Items=too_many)[:2] == (
        "NumberSubmittedItemsExceeded", 409)
    assert refusal(sdb.batch_delete_attributes, DomainName=domain,
                   Items=[{"Name": f"i{n}"} for n in range(26)])[:2] == (
        "NumberSubmittedItemsExceeded", 409)
    twice = [{"Name": "same", "Attributes": [{"Name": "a", "Value": "b"}]},
             {"Name": "other", "Attributes": [{"Name": "a", "Value": "b"}]},
             {"Name": "same", "Attributes": [{"Name": "a", "Value": "c"}]}]
    code, status, message = refusal(sdb.batch_put_attributes, DomainName=domain, Items=twice)
    assert (code, status) == ("DuplicateItemName", 400)
    assert "same" in message
    assert refusal(sdb.batch_delete_attributes, DomainName=domain,
                   Items=[{"Name": "x"}, {"Name": "x"}])[:2] == ("DuplicateItemName", 400)
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0


def test_a_refused_batch_changes_nothing(sdb, domain):
    put(sdb, domain, "full", **{f"a{n:03d}": "v" for n in range(limits.MAX_PAIRS_PER_ITEM)})
    batch = [{"Name": "fresh", "Attributes": [{"Name": "a", "Value": "b"}]},
             {"Name": "full", "Attributes": [{"Name": "one-more", "Value": "v"}]}]
    assert refusal(sdb.batch_put_attributes, DomainName=domain, Items=batch)[:2] == (
        "NumberItemAttributesExceeded", 409)
    assert attributes(sdb, domain, "fresh") == {}


def test_an_item_holds_at_most_256_pairs(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="big", Attributes=pairs(200))
    sdb.put_attributes(DomainName=domain, ItemName="big",
                       Attributes=pairs(56, name=lambda n: "multi", value=str))
    code, status, message = refusal(sdb.put_attributes, DomainName=domain, ItemName="big",
                                    Attributes=[{"Name": "straw", "Value": "v"}])
    assert (code, status) == ("NumberItemAttributesExceeded", 409)
    assert "256" in message
    # Replacing keeps the count under the limit, so it is allowed.
    sdb.put_attributes(DomainName=domain, ItemName="big",
                       Attributes=[{"Name": "multi", "Value": "one", "Replace": True}])
    assert sdb.domain_metadata(DomainName=domain)["AttributeValueCount"] == 201


def test_one_call_sends_at_most_256_pairs(sdb, domain):
    assert refusal(sdb.put_attributes, DomainName=domain, ItemName="big",
                   Attributes=pairs(257))[:2] == ("NumberSubmittedAttributesExceeded", 409)
    assert refusal(sdb.batch_put_attributes, DomainName=domain,
                   Items=[{"Name": "big", "Attributes": pairs(257)}])[:2] == (
        "NumberSubmittedAttributesExceeded", 409)


def test_names_and_values_are_at_most_1024_bytes(sdb, domain):
    fits = "é" * 512  # 1024 bytes in UTF-8
    put(sdb, domain, fits, **{fits: fits})
    assert attributes(sdb, domain, fits) == {fits: [fits]}
    for item, name, value in [("i" * 1025, "a", "v"), ("i", "é" * 513, "v"),
                              ("i", "a", "v" * 1025)]:
        code, status, message = refusal(sdb.put_attributes, DomainName=domain, ItemName=item,
                                        Attributes=[{"Name": name, "Value": value}])
        assert (code, status) == ("InvalidParameterValue", 400)
        assert "1024" in message


def test_missing_parameters_are_named(raw_sdb, domain):
    cases = [
        (raw_sdb.create_domain, {}, "DomainName"),
        (raw_sdb.put_attributes, {"DomainName": domain, "Attributes": pairs(1)}, "ItemName"),
        (raw_sdb.put_attributes, {"DomainName": domain, "ItemName": "i"}, "Attribute"),
        (raw_sdb.put_attributes, {"DomainName": domain, "ItemName": "i",
                                  "Attributes": [{"Name": "colour"}]}, "colour"),
        (raw_sdb.put_attributes, {"DomainName": domain, "ItemName": "i",
                                  "Attributes": [{"Value": "red"}]}, "red"),
        (raw_sdb.get_attributes, {"DomainName": domain}, "ItemName"),
        (raw_sdb.batch_put_attributes, {"DomainName": domain, "Items": [
            {"Attributes": pairs(1)}]}, "Item.1.ItemName"),
        (raw_sdb.batch_put_attributes, {"DomainName": domain, "Items": [
            {"Name": "i"}]}, "Item.1.Attribute"),
        (raw_sdb.select, {}, "SelectExpression"),
    ]
    for call, kwargs, named in cases:
        code, status, message = refusal(call, **kwargs)
        assert (code, status) == ("MissingParameter", 400), (call, kwargs)
        assert named in message, message


def test_text_xml_cannot_carry_comes_back_base64_encoded(sdb, domain):
    # As SimpleDB does: the element is marked encoding="base64", which
    # botocore does not read, so the client sees the base64 text.
    import base64

    put(sdb, domain, "bell", sound="ding\x07")
    assert attributes(sdb, domain, "bell") == {
        "sound": [base64.b64encode(b"ding\x07").decode("ascii")]}
