"""The dashboard at ``/``: a page shell whose script and style sheet are
files of the package (nommer/http/static/), so nothing comes from elsewhere
and nothing runs inline.

The page holds no data and is served without a token. Its script keeps the
token in sessionStorage (gone when the tab closes), sends it as a bearer
token with every call, shows nothing until the API accepts it, and reads
``/jobs``, ``/jobs/<id>``, ``/fleet`` and ``/error-codes``.
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nommer</title>
<link rel="stylesheet" href="static/dashboard.css">
<link rel="icon" href="static/favicon.svg">
<script src="static/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1><a href="#/jobs">nommer</a></h1>
  <nav id="nav" hidden>
    <a href="#/jobs" id="nav-jobs">Jobs</a>
    <a href="#/fleet" id="nav-fleet">Fleet</a>
    <a href="docs" id="nav-docs">API</a>
    <button type="button" id="forget">Forget token</button>
  </nav>
  <span id="status" role="status"></span>
</header>
<form id="login" hidden>
  <p>This farm needs an API token (one of its <code>api_tokens</code>). It is kept for this tab only.</p>
  <label>API token <input id="token" type="password" autocomplete="off" size="40"></label>
  <button type="submit">Use</button>
  <span id="login-error"></span>
</form>
<main id="view" hidden></main>
<noscript>The dashboard needs JavaScript.</noscript>
</body>
</html>
"""

# Only the package's own script and style sheet load, the script talks only
# to this origin, and no other site may frame the page.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
