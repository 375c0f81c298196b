"""The SimpleDB 2009-04-15 actions: form parameters in, the XML of the
action's result out. Each action reads its parameters, calls the store and
renders what it answers."""

from . import answers, limits, params
from .errors import SdbError


def create_domain(store, p):
    store.create_domain(params.domain_name(p))


def delete_domain(store, p):
    store.delete_domain(params.domain_name(p))


def list_domains(store, p):
    most = params.integer(p, "MaxNumberOfDomains", limits.LIST_DOMAINS_MAX,
                          1, limits.LIST_DOMAINS_MAX)
    names, token = store.list_domains(most, p.get("NextToken"))
    result = "".join(answers.text("DomainName", name) for name in names)
    return result + (answers.text("NextToken", token) if token else "")


def domain_metadata(store, p):
    metadata = store.metadata(params.domain_name(p))
    return "".join(f"<{key}>{value}</{key}>" for key, value in metadata.items())


def put_attributes(store, p):
    store.put(params.domain_name(p), params.item_name(p),
              params.attributes_to_put(p), params.expected(p))


def batch_put_attributes(store, p):
    domain = params.domain_name(p)
    items = [(name, params.attributes_to_put(fields, f"Item.{index}.Attribute.1.Name"))
             for index, name, fields in params.batch_items(p)]
    store.batch_put(domain, items)


def get_attributes(store, p):
    domain, item = params.domain_name(p), params.item_name(p)
    names = [group[""] for _, group in params.indexed(p, "AttributeName") if "" in group]
    params.boolean(p, "ConsistentRead")  # every read is consistent here
    return "".join(answers.attribute(name, value)
                   for name, value in store.get(domain, item, names))


def delete_attributes(store, p):
    store.delete(params.domain_name(p), params.item_name(p),
                 params.attributes_to_delete(p), params.expected(p))


def batch_delete_attributes(store, p):
    domain = params.domain_name(p)
    items = [(name, params.attributes_to_delete(fields))
             for _, name, fields in params.batch_items(p)]
    store.batch_delete(domain, items)


def select(store, p):
    expression = params.required(p, "SelectExpression")
    params.boolean(p, "ConsistentRead")
    page = store.select(expression, p.get("NextToken"))
    result = "".join(answers.item(name, pairs) for name, pairs in page.items)
    return result + (answers.text("NextToken", page.next_token) if page.next_token else "")


ACTIONS = {
    "CreateDomain": create_domain,
    "DeleteDomain": delete_domain,
    "ListDomains": list_domains,
    "DomainMetadata": domain_metadata,
    "PutAttributes": put_attributes,
    "BatchPutAttributes": batch_put_attributes,
    "GetAttributes": get_attributes,
    "DeleteAttributes": delete_attributes,
    "BatchDeleteAttributes": batch_delete_attributes,
    "Select": select,
}

#: Actions that answer only ResponseMetadata, without a Result element.
_NO_RESULT = {"CreateDomain", "DeleteDomain", "PutAttributes", "BatchPutAttributes",
              "DeleteAttributes", "BatchDeleteAttributes"}


def handle(store, p, request_id):
    """The answer body to the request whose form parameters are ``p``; raises
    :class:`SdbError` for a refusal."""
    action = p.get("Action")
    if not action:
        raise SdbError("MissingAction", "No action was supplied with this request.")
    if action not in ACTIONS:
        raise SdbError("InvalidAction",
                       f"The action {action} is not valid for this web service.")
    result = ACTIONS[action](store, p)
    return answers.success(action, None if action in _NO_RESULT else result or "", request_id)
