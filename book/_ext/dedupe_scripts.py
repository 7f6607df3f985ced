"""Write each <script> of a page once.

Sphinx 7.4 writes an inline script twice when an extension adds it after the builder was
initialised: ``Sphinx.add_js_file(None, body=...)`` reaches the builder as filename
``None`` and again, from the registry, as ``''``, which compare unequal. sphinx-thebe's
``const THEBE_JS_URL = ...`` then throws "Identifier 'THEBE_JS_URL' has already been
declared" on every page. Fixed upstream by sphinx-doc/sphinx#13402 (Sphinx 8); Jupyter
Book 1.x requires Sphinx 7. Drop this extension once the book builds on a fixed Sphinx.
"""


def _key(script):
    filename = getattr(script, "filename", script)
    attributes = getattr(script, "attributes", {})
    return (str(filename or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
