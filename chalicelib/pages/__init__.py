"""HTML pages for browsers (the shopper landing page, the dashboard), rendered from the templates, CSS,
JavaScript and translations beside each page. May import: domain.

Modules: assets (the minified build, hashed for the CSP), dashboard (the campaign managers' dashboard),
landing (the shopper page and wallet, and the language it speaks).
"""
