"""The web console (docs/console.md): server-rendered pages over the service layer.

`pages.PAGES` is the route table; `app.ConsoleApp` wraps each page in the checks every
page gets (session, access, CSRF, bounds) and serves the static files.
"""
