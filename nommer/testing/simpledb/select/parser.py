"""A recursive-descent parser for SimpleDB's select expressions::

    query      := SELECT output FROM name [WHERE expression]
                  [ORDER BY subject [ASC | DESC]] [LIMIT number]
    output     := '*' | itemName '(' ')' | count '(' '*' ')' | name {',' name}
    expression := disjunction {INTERSECTION disjunction}
    disjunction:= conjunction {OR conjunction}
    conjunction:= negation {AND negation}
    negation   := NOT negation | '(' expression ')' | comparison
    comparison := subject ( op value | [NOT] LIKE value
                          | BETWEEN value AND value | IN '(' value {',' value} ')'
                          | IS [NOT] NULL )
    subject    := name | itemName '(' ')' | EVERY '(' name ')'

``intersection`` binds loosest, then ``or``, ``and``, ``not``. The function
names ``itemName`` and ``count`` are case-insensitive like the keywords.
"""

from ..errors import invalid_query
from .lexer import tokenize
from .syntax import ITEM_NAME, And, Comparison, Intersection, Not, Or, Query, Subject


class _Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.at = 0

    # --- token helpers ------------------------------------------------------

    @property
    def token(self):
        return self.tokens[self.at]

    def _describe(self, token):
        return "the end of the expression" if token.kind == "end" else \
            f"{token.text!r} at offset {token.at}"

    def fail(self, wanted):
        return invalid_query(f"Expected {wanted} but found {self._describe(self.token)}.")

    def take(self):
        token = self.token
        self.at += 1
        return token

    def accept(self, kind, text=None):
        """Take the current token when it is of ``kind`` (and ``text``)."""
        token = self.token
        if token.kind == kind and (text is None or token.text == text):
            return self.take()
        return None

    def expect(self, kind, text=None, wanted=None):
        token = self.accept(kind, text)
        if token is None:
            raise self.fail(wanted or (repr(text) if text else kind))
        return token

    def function(self, name):
        """Take ``name(`` (case-insensitive) when it comes next."""
        token = self.token
        following = self.tokens[min(self.at + 1, len(self.tokens) - 1)]
        if (token.kind == "name" and token.text.lower() == name.lower()
                and following.kind == "punct" and following.text == "("):
            self.at += 2
            return True
        return False

    def name(self, wanted="a name"):
        token = self.token
        if token.kind in ("name", "quoted_name"):
            return self.take().text
        raise self.fail(wanted)

    def value(self):
        return self.expect("value", wanted="a quoted value").text

    # --- grammar ------------------------------------------------------------

    def query(self):
        self.expect("keyword", "select")
        output = self.output()
        self.expect("keyword", "from")
        domain = self.name("a domain name")
        where = order_by = limit = None
        descending = False
        if self.accept("keyword", "where"):
            where = self.expression()
        if self.accept("keyword", "order"):
            self.expect("keyword", "by")
            order_by = self.subject(allow_every=False)
            if self.accept("keyword", "desc"):
                descending = True
            else:
                self.accept("keyword", "asc")
        if self.accept("keyword", "limit"):
            limit = int(self.expect("number", wanted="a number after limit").text)
        if self.token.kind != "end":
            raise self.fail("the end of the expression")
        return Query(output, domain, where, order_by, descending, limit)

    def output(self):
        if self.accept("punct", "*"):
            return "*"
        if self.function("itemName"):
            self.expect("punct", ")")
            return ITEM_NAME
        if self.function("count"):
            self.expect("punct", "*")
            self.expect("punct", ")")
            return "count(*)"
        names = [self.name("'*', itemName(), count(*) or attribute names")]
        while self.accept("punct", ","):
            names.append(self.name("an attribute name"))
        return tuple(names)

    def expression(self):
        result = self.disjunction()
        while self.accept("keyword", "intersection"):
            result = Intersection(result, self.disjunction())
        return result

    def disjunction(self):
        result = self.conjunction()
        while self.accept("keyword", "or"):
            result = Or(result, self.conjunction())
        return result

    def conjunction(self):
        result = self.negation()
        while self.accept("keyword", "and"):
            result = And(result, self.negation())
        return result

    def negation(self):
        if self.accept("keyword", "not"):
            return Not(self.negation())
        if self.accept("punct", "("):
            inner = self.expression()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def subject(self, allow_every=True):
        if self.function("itemName"):
            self.expect("punct", ")")
            return Subject(None)
        if allow_every and self.accept("keyword", "every"):
            self.expect("punct", "(")
            name = self.name("an attribute name inside every()")
            self.expect("punct", ")")
            return Subject(name, every=True)
        return Subject(self.name("an attribute name, itemName() or every()"))

    def comparison(self):
        subject = self.subject()
        token = self.token
        if token.kind == "op":
            self.take()
            return Comparison(subject, token.text, (self.value(),))
        if self.accept("keyword", "not"):
            self.expect("keyword", "like", wanted="'like' after 'not'")
            return Comparison(subject, "not like", (self.value(),))
        if self.accept("keyword", "like"):
            return Comparison(subject, "like", (self.value(),))
        if self.accept("keyword", "between"):
            low = self.value()
            self.expect("keyword", "and")
            return Comparison(subject, "between", (low, self.value()))
        if self.accept("keyword", "in"):
            self.expect("punct", "(")
            values = [self.value()]
            while self.accept("punct", ","):
                values.append(self.value())
            self.expect("punct", ")")
            return Comparison(subject, "in", tuple(values))
        if self.accept("keyword", "is"):
            negated = self.accept("keyword", "not")
            self.expect("keyword", "null")
            if subject.every:
                raise invalid_query("every() cannot be used with 'is null'.")
            return Comparison(subject, "is not null" if negated else "is null", ())
        raise self.fail("a comparison operator")


def parse(text):
    """The :class:`Query` that ``text`` spells, or InvalidQueryExpression
    naming what was expected and where."""
    return _Parser(text).query()

