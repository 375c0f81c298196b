"""Conditional puts and deletes: the Expected clause."""

from .helpers import attributes, put, refusal


def put_if(sdb, domain, item, expected, **values):
    sdb.put_attributes(DomainName=domain, ItemName=item, Expected=expected, Attributes=[
        {"Name": name, "Value": value, "Replace": True} for name, value in values.items()])


def test_put_with_expected_value_succeeds_only_on_that_value(sdb, domain):
    put(sdb, domain, "job", version="1", state="PENDING")
    put_if(sdb, domain, "job", {"Name": "version", "Value": "1"}, version="2", state="ENCODING")
    assert attributes(sdb, domain, "job") == {"version": ["2"], "state": ["ENCODING"]}
    code, status, message = refusal(put_if, sdb, domain, "job",
                                    {"Name": "version", "Value": "1", "Exists": True},
                                    version="2", state="ERROR")
    assert (code, status) == ("ConditionalCheckFailed", 409)
    assert message == ("Conditional check failed. Attribute (version) value is (2) "
                       "but was expected (1)")
    assert attributes(sdb, domain, "job") == {"version": ["2"], "state": ["ENCODING"]}


def test_put_with_exists_false_creates_only_once(sdb, domain):
    absent = {"Name": "version", "Exists": False}
    put_if(sdb, domain, "job", absent, version="1")
    code, status, message = refusal(put_if, sdb, domain, "job", absent, version="9")
    assert (code, status) == ("ConditionalCheckFailed", 409)
    assert "(version) value exists" in message
    assert attributes(sdb, domain, "job") == {"version": ["1"]}


def test_expecting_a_value_of_an_absent_attribute_is_attribute_does_not_exist(sdb, domain):
    code, status, message = refusal(put_if, sdb, domain, "new", {"Name": "version",
                                                                 "Value": "1"}, version="2")
    assert (code, status) == ("AttributeDoesNotExist", 404)
    assert "version" in message
    assert attributes(sdb, domain, "new") == {}


def test_a_condition_on_a_multi_valued_attribute_is_refused(sdb, domain):
    put(sdb, domain, "job", tag=["a", "b"])
    assert refusal(put_if, sdb, domain, "job", {"Name": "tag", "Value": "a"}, tag="c")[:2] == (
        "MultiValuedAttribute", 409)


def test_malformed_conditions_are_refused(raw_sdb, domain):
    both = {"Name": "v", "Value": "1", "Exists": False}
    assert refusal(put_if, raw_sdb, domain, "job", both, v="2")[:2] == (
        "ExistsAndExpectedValue", 400)
    no_value = {"Name": "v", "Exists": True}
    assert refusal(put_if, raw_sdb, domain, "job", no_value, v="2")[:2] == (
        "IncompleteExpectedExpression", 400)
    no_name = {"Value": "1"}
    code, status, message = refusal(put_if, raw_sdb, domain, "job", no_name, v="2")
    assert (code, status) == ("MissingParameter", 400)
    assert "Expected.Name" in message


def test_delete_with_expected_value(sdb, domain):
    put(sdb, domain, "job", version="3", state="FINISHED")
    code, status, _ = refusal(sdb.delete_attributes, DomainName=domain, ItemName="job",
                              Expected={"Name": "version", "Value": "2"})
    assert (code, status) == ("ConditionalCheckFailed", 409)
    assert attributes(sdb, domain, "job") == {"version": ["3"], "state": ["FINISHED"]}
    sdb.delete_attributes(DomainName=domain, ItemName="job",
                          Attributes=[{"Name": "state", "Value": "FINISHED"}],
                          Expected={"Name": "version", "Value": "3"})
    assert attributes(sdb, domain, "job") == {"version": ["3"]}
    sdb.delete_attributes(DomainName=domain, ItemName="job",
                          Expected={"Name": "version", "Value": "3", "Exists": True})
    assert attributes(sdb, domain, "job") == {}


def test_delete_with_exists_false(sdb, domain):
    put(sdb, domain, "job", version="1", lock="held")
    assert refusal(sdb.delete_attributes, DomainName=domain, ItemName="job",
                   Expected={"Name": "lock", "Exists": False})[:2] == (
        "ConditionalCheckFailed", 409)
    sdb.delete_attributes(DomainName=domain, ItemName="job",
                          Attributes=[{"Name": "version", "Value": "1"}],
                          Expected={"Name": "owner", "Exists": False})
    assert attributes(sdb, domain, "job") == {"lock": ["held"]}
    assert refusal(sdb.delete_attributes, DomainName=domain, ItemName="job",
                   Expected={"Name": "owner", "Value": "me"})[:2] == (
        "AttributeDoesNotExist", 404)


def test_only_one_writer_of_a_version_wins(sdb, server, make_client, domain):
    """Many clients race to move version 1 to 2: exactly one succeeds."""
    import threading

    put(sdb, domain, "job", version="1")
    outcomes = []
    clients = [make_client(server.url) for _ in range(8)]

    def race(client, n):
        try:
            put_if(client, domain, "job", {"Name": "version", "Value": "1"},
                   version="2", winner=str(n))
            outcomes.append("won")
        except client.exceptions.ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=race, args=(client, n))
               for n, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ConditionalCheckFailed"] * 7 + ["won"]
    assert len(attributes(sdb, domain, "job")["winner"]) == 1
