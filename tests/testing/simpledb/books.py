"""The Developer Guide's sample data set for Select: books, a CD and DVDs."""

BOOKS = {
    "0385333498": {"Title": ["The Sirens of Titan"], "Author": ["Kurt Vonnegut"],
                   "Year": ["1959"], "Pages": ["00336"], "Keyword": ["Book", "Paperback"],
                   "Rating": ["*****", "5 stars", "Excellent"]},
    "0802131786": {"Title": ["Tropic of Cancer"], "Author": ["Henry Miller"],
                   "Year": ["1934"], "Pages": ["00318"], "Keyword": ["Book"],
                   "Rating": ["****"]},
    "1579124585": {"Title": ["The Right Stuff"], "Author": ["Tom Wolfe"],
                   "Year": ["1979"], "Pages": ["00304"],
                   "Keyword": ["Book", "Hardcover", "American"],
                   "Rating": ["****", "4 stars"]},
    "B000T9886K": {"Title": ["In Between"], "Author": ["Paul Van Dyk"], "Year": ["2007"],
                   "Keyword": ["CD", "Trance"], "Rating": ["4 stars"]},
    "B00005JPLW": {"Title": ["300"], "Author": ["Zack Snyder"], "Year": ["2007"],
                   "Keyword": ["DVD", "Action", "Frank Miller"],
                   "Rating": ["***", "3 stars", "Not bad"]},
    "B000SF3NGK": {"Title": ["Heaven's Gonna Burn Your Eyes"],
                   "Author": ["Thievery Corporation"], "Year": ["2002"],
                   "Rating": ["*****"]},
}


def load(sdb, domain="mydomain"):
    """Create ``domain`` holding the sample data set, in one batch."""
    sdb.create_domain(DomainName=domain)
    sdb.batch_put_attributes(DomainName=domain, Items=[
        {"Name": name, "Attributes": [{"Name": attribute, "Value": value}
                                      for attribute, values in item.items()
                                      for value in values]}
        for name, item in BOOKS.items()])
