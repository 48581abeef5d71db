"""HTML pages for browsers (the shopper landing page, the public results, the dashboard), rendered from the templates, CSS,
JavaScript and translations beside each page; shared.js holds the helpers every page's script is built
after (session, elements, formatting, the API call). May import: domain.

Modules: assets (the minified build, hashed for the CSP), dashboard (the campaign managers' dashboard),
landing (the shopper page and wallet, and the language it speaks), results (the public results page of a
campaign's draws, no script).
"""
