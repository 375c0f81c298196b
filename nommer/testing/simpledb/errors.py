"""SimpleDB's error codes, each with the HTTP status AWS answers it with.

Every refusal the server makes is an :class:`SdbError`; the HTTP layer turns it
into AWS's error XML, which botocore reads into a ``ClientError`` whose
``Error.Code`` is the code here.
"""

STATUS = {
    "AttributeDoesNotExist": 404,
    "ConditionalCheckFailed": 409,
    "DuplicateItemName": 400,
    "ExistsAndExpectedValue": 400,
    "IncompleteExpectedExpression": 400,
    "InternalError": 500,
    "InvalidAction": 400,
    "InvalidNextToken": 400,
    "InvalidNumberPredicates": 400,
    "InvalidNumberValueTests": 400,
    "InvalidParameterValue": 400,
    "InvalidQueryExpression": 400,
    "InvalidSortExpression": 400,
    "MissingAction": 400,
    "MissingParameter": 400,
    "MultipleExistsConditions": 400,
    "MultipleExpectedNames": 400,
    "MultipleExpectedValues": 400,
    "MultiValuedAttribute": 409,
    "NoSuchDomain": 400,
    "NumberDomainsExceeded": 409,
    "NumberItemAttributesExceeded": 409,
    "NumberSubmittedAttributesExceeded": 409,
    "NumberSubmittedItemsExceeded": 409,
    "RequestTimeout": 408,
    "ServiceUnavailable": 503,
    "TooManyRequestedAttributes": 400,
}


class SdbError(Exception):
    """A refusal with SimpleDB's ``code``, a readable ``message`` and the HTTP
    ``status`` AWS uses for that code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS[code]

    def __str__(self):
        return f"{self.code}: {self.message}"


def no_such_domain():
    return SdbError("NoSuchDomain", "The specified domain does not exist.")


def missing(parameter):
    return SdbError("MissingParameter",
                    f"The request must contain the parameter {parameter}.")


def invalid_value(parameter, value, why=""):
    message = f"Value ({value}) for parameter {parameter} is invalid."
    return SdbError("InvalidParameterValue", f"{message} {why}".strip())


def invalid_query(why):
    return SdbError("InvalidQueryExpression",
                    f"The specified query expression syntax is not valid. {why}".strip())


def service_unavailable():
    return SdbError(
        "ServiceUnavailable",
        "Service AmazonSimpleDB is currently unavailable. Please try again later.")
