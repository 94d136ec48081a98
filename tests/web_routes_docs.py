"""The role matrix's entries for the API docs (tests/test_web_roles.py): Swagger UI's script
and stylesheet, served by the app from the installed ``fastapi-offline`` package, are public,
as ``/docs`` is."""

ROUTES = {
    ("GET", "/static/swagger-ui-bundle.js"): "public",
    ("GET", "/static/swagger-ui.css"): "public",
}
