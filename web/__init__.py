"""IOC web: the Flask app (Jinja2 pages and the flask-smorest REST API) and the ``ioc`` command."""
