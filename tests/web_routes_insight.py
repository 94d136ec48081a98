"""The role matrix's entries for the dashboard's SPC alerts and days ahead and the process map
(tests/test_web_roles.py): viewers and above read both."""

ROUTES = {
    ("GET", "/services/{name}/insight"): "service page",
    ("GET", "/services/{name}/processmap"): "service page",
}
