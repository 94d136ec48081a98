"""The role matrix's entries for daily figures (tests/test_web_roles.py): a viewer sees a
day's figures (the page says entering them needs the editor role); saving needs an editor."""

ROUTES = {
    ("GET", "/services/{name}/daily"): "service page",
    ("POST", "/services/{name}/daily"): "service write",
    ("POST", "/api/services/{name}/daily"): "service api write",
}
