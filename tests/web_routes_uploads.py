"""The role matrix's entries for uploading files (tests/test_web_roles.py): a viewer sees the
upload page (which says uploading needs the editor role); sending files needs an editor."""

ROUTES = {
    ("GET", "/services/{name}/upload"): "service page",
    ("POST", "/services/{name}/upload"): "service write",
    ("POST", "/services/{name}/upload/confirm"): "service write",
    ("POST", "/api/services/{name}/uploads"): "service api write",
}
