"""The role matrix's entries for the account and admin pages (tests/test_web_roles.py)."""

ROUTES = {
    ("GET", "/account"): "page",
    ("POST", "/account/tokens"): "page",
    ("POST", "/account/tokens/revoke"): "page",
    ("POST", "/account/password"): "page",
    ("GET", "/services/{name}/users"): "admin page",
    ("POST", "/services/{name}/users"): "admin write",
    ("POST", "/services/{name}/users/role"): "admin write",
    ("POST", "/services/{name}/users/remove"): "admin write",
    ("GET", "/services/{name}/audit"): "admin page",
    ("GET", "/services/{name}/settings"): "admin page",
    ("POST", "/services/{name}/settings"): "admin write",
    ("GET", "/services/{name}/settings/yaml"): "admin page",
    ("POST", "/services/{name}/settings/yaml"): "admin write",
    ("GET", "/services/{name}/settings/versions"): "admin page",
    ("POST", "/services/{name}/settings/restore"): "admin write",
}
