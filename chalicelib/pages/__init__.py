"""HTML pages for browsers (the shopper landing page, the dashboard), rendered from the templates, CSS,
JavaScript and translations beside each page. May import: domain."""
