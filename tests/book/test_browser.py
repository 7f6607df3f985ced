"""The rendered book in a real browser: headless Debian Chromium driven by selenium.

Point ``FAALGRAD_HTML`` at a rendered book (``make test`` renders one into
scratch/html-test/_build/html, ``make book`` into _build/html) and run::

    FAALGRAD_HTML=_build/html .venv/bin/python -m pytest tests/book/test_browser.py -v

Needs the system browser and driver (``apt-get install chromium chromium-driver``:
/usr/bin/chromium, /usr/bin/chromedriver) and selenium; nothing is downloaded at run
time (selenium-manager is bypassed by naming the driver). The book is served over http
from a thread on localhost, and the browser is offline: every host name except the
local server fails to resolve, so a page that needs a CDN fails here as it would for a
reader without internet access.

For every page of ``_toc.yml``, at a 1280x900 window, one test checks:

* math typeset: where the page holds math, MathJax is loaded and has finished, and no raw
  TeX delimiter (``\\[``, ``\\(``, ``$$``) is left in ``document.body.innerText``;
* nothing wider than the viewport (``scrollWidth <= innerWidth``; the offending elements
  are named by tag, id and class);
* every ``<img>`` loaded (``complete && naturalWidth > 0``);
* no SEVERE entry in the browser console;
* no table scrolling sideways inside its box: every table of the book fits its page's
  column at this width (the page's "Contents" sidebar is a drawer below 1600 px, see
  _static/wide.css).

All failing checks of a page are reported together. A screenshot of each page (its full
height, capped at ``MAX_SHOT_HEIGHT``) is saved as scratch/screenshots/<page>.png, and
what was measured as <page>.json beside it (also the code cells wider than their box).
Each page is loaded as a first visit (local storage cleared).
``test_page_contents_in_browser`` opens a page's "Contents" drawer, and
``test_search_finds_results`` opens search.html?q=FaAlGrad and expects hits.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML_ENV = "FAALGRAD_HTML"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
APT_HINT = "apt-get install chromium chromium-driver"
WIDTH, HEIGHT = 1280, 900
MAX_SHOT_HEIGHT = 12000
SCREENSHOTS = ROOT / "scratch" / "screenshots"
RAW_TEX = ("\\[", "\\(", "$$")
LOAD_TIMEOUT = 60  # seconds for a page, its scripts and MathJax's first typesetting pass


def _toc_pages() -> list[str]:
    """Every page of the book, in _toc.yml order (``book/intro``, ``book/method_check``, ...)."""
    if importlib.util.find_spec("yaml") is None:
        return []  # collected without PyYAML: one skipped test says so
    from book_toc import toc_pages

    return [p.removesuffix(".md").removesuffix(".ipynb") for p in toc_pages(ROOT)]


PAGES = _toc_pages()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def html_dir() -> Path:
    value = os.environ.get(HTML_ENV)
    if not value:
        pytest.skip(
            f"{HTML_ENV} is not set: point it at a rendered book, e.g. {HTML_ENV}=_build/html"
        )
    path = Path(value)
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    if not (path / "index.html").exists():
        pytest.fail(f"{HTML_ENV}={value}: no index.html there (render the book first)")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def _serve(directory: Path):
    """http://127.0.0.1:PORT serving ``directory`` from a thread, PORT chosen by the OS."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(html_dir):
    with _serve(html_dir) as url:
        yield url


@pytest.fixture(scope="module")
def driver():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
        pytest.skip(f"chromium not installed ({', '.join(missing)} missing): {APT_HINT}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium not installed: pip install -r requirements.txt")

    profile = tempfile.mkdtemp(prefix="faalgrad-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        # Offline: no host name resolves except the local server's address.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=os.devnull)
    browser = webdriver.Chrome(options=options, service=service)
    browser.set_page_load_timeout(LOAD_TIMEOUT)
    browser.set_script_timeout(LOAD_TIMEOUT)
    try:
        _viewport(browser, WIDTH, HEIGHT)
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------- page probes

# Resolves once MathJax has typeset the page (or at once when the page loads no MathJax).
_MATHJAX_JS = """
const done = arguments[arguments.length - 1];
const mathNodes = document.querySelectorAll('.math').length;
const mj = window.MathJax;
const loaded = !!(mj && mj.version && mj.startup && mj.startup.promise);
const report = (error) => done({
    mathNodes: mathNodes,
    loaded: loaded,
    version: loaded ? mj.version : null,
    typeset: document.querySelectorAll('mjx-container').length,
    mathjaxErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    error: error || null,
    text: document.body.innerText,
});
if (loaded) {
    mj.startup.promise.then(() => report(null), (e) => report(String(e)));
} else {
    report(null);
}
"""

# Elements that stick out past the right edge of the viewport and are not clipped by a
# scrolling ancestor; the outermost of each such chain, and the innermost, are named.
_WIDE_JS = """
const vw = window.innerWidth;
const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    const cls = (typeof el.className === 'string' ? el.className : '')
        .trim().split(/\\s+/).filter(Boolean);
    if (cls.length) s += '.' + cls.slice(0, 4).join('.');
    return s;
};
const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible'
            && a.getBoundingClientRect().right <= vw + 1) return true;
    }
    return false;
};
const wide = [];
for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 && r.width > 0 && !clipped(el)) wide.push(el);
}
const set = new Set(wide);
const outer = wide.filter((el) => !set.has(el.parentElement));
const inner = wide.filter((el) => !Array.from(el.children).some((c) => set.has(c)));
const info = (el) => {
    const r = el.getBoundingClientRect();
    return {el: describe(el), left: Math.round(r.left), right: Math.round(r.right),
            width: Math.round(r.width),
            parent: el.parentElement ? describe(el.parentElement) : null};
};
return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: vw,
    outer: outer.slice(0, 8).map(info),
    inner: inner.slice(0, 8).map(info),
    count: wide.length,
};
"""

# Not a failure, reported: tables and code wider than their box, readable only by
# scrolling that box sideways.
_HSCROLL_JS = """
const out = [];
for (const el of document.querySelectorAll('main *')) {
    if (el.matches('.math, .math *')) continue;
    if (getComputedStyle(el).overflowX === 'visible'
        || el.scrollWidth <= el.clientWidth + 1) continue;
    const table = el.querySelector('table');
    out.push({el: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                  + (typeof el.className === 'string' && el.className.trim()
                     ? '.' + el.className.trim().split(/\\s+/).join('.') : ''),
              box: el.clientWidth, content: el.scrollWidth, table: !!table});
}
return out;
"""

_IMAGES_JS = """
return Array.from(document.images).map((img) => ({
    src: img.getAttribute('src'), complete: img.complete, naturalWidth: img.naturalWidth,
}));
"""


def _viewport(driver, width: int, height: int) -> None:
    """Size the viewport itself (not the window frame) to exactly width x height."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def _console(driver) -> list[dict]:
    return driver.get_log("browser")


def _screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);"
    )
    height = max(HEIGHT, min(int(height), MAX_SHOT_HEIGHT))
    # A viewport as tall as the page for the picture (captureBeyondViewport shifts this
    # theme's layout sideways), then back to WIDTH x HEIGHT.
    _viewport(driver, WIDTH, height)
    try:
        driver.execute_script("window.scrollTo(0, 0);")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        _viewport(driver, WIDTH, HEIGHT)
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def _fresh_visit(driver, base_url: str) -> None:
    """Forget what earlier pages stored and logged: each page is checked as a first visit."""
    driver.execute_cdp_cmd(
        "Storage.clearDataForOrigin",
        {"origin": base_url, "storageTypes": "local_storage,session_storage"},
    )
    _console(driver)


def _console_errors(driver) -> list[str]:
    """SEVERE console entries, less the browser's own /favicon.ico request on a page that
    declares no icon (the browser asks the server root, which is not the book's on a
    project site; it is no request of the page)."""
    declares_icon = driver.execute_script("return !!document.querySelector('link[rel~=\"icon\"]');")
    errors = []
    for entry in _console(driver):
        if entry.get("level") != "SEVERE":
            continue
        message = entry["message"]
        if (
            not declares_icon
            and message.split(" ", 1)[0].endswith("/favicon.ico")
            and "Failed to load resource" in message
        ):
            continue
        errors.append(message)
    return errors


def _check_page(driver, base_url: str, url: str) -> tuple[list[str], dict]:
    """Load ``url`` as a first visit and run every check; (failures, facts)."""
    _fresh_visit(driver, base_url)
    driver.get(url)
    failures: list[str] = []

    math = driver.execute_async_script(_MATHJAX_JS)
    raw = [d for d in RAW_TEX if d in math["text"]]
    if math["mathNodes"] and not math["loaded"]:
        failures.append(f"math: {math['mathNodes']} math elements but MathJax did not load")
    if math["error"]:
        failures.append(f"math: MathJax startup failed: {math['error']}")
    if math["mathNodes"] and math["loaded"] and math["typeset"] < math["mathNodes"]:
        failures.append(f"math: {math['typeset']} typeset of {math['mathNodes']} math elements")
    if math["mathjaxErrors"]:
        failures.append(f"math: {math['mathjaxErrors']} MathJax errors (red TeX)")
    if raw:
        snippets = []
        for d in raw:
            i = math["text"].index(d)
            snippets.append(repr(math["text"][max(0, i - 30) : i + 50]))
        failures.append(
            f"math: raw TeX delimiters {raw} in the visible text, e.g. {'; '.join(snippets)}"
        )

    wide = driver.execute_script(_WIDE_JS)
    if wide["scrollWidth"] > wide["innerWidth"]:
        lines = [
            f"  {w['el']} (in {w['parent']}): x {w['left']}..{w['right']}, width {w['width']}"
            for w in wide["outer"]
        ]
        leaves = [
            f"  {w['el']} (in {w['parent']}): x {w['left']}..{w['right']}"
            for w in wide["inner"]
            if w["el"] not in {o["el"] for o in wide["outer"]}
        ]
        failures.append(
            f"width: page is {wide['scrollWidth']} px wide in a {wide['innerWidth']} px viewport; "
            f"{wide['count']} elements stick out, outermost:\n"
            + "\n".join(lines)
            + ("\n innermost:\n" + "\n".join(leaves) if leaves else "")
        )

    broken = [
        i
        for i in driver.execute_script(_IMAGES_JS)
        if not (i["complete"] and i["naturalWidth"] > 0)
    ]
    if broken:
        failures.append("images: not loaded: " + ", ".join(str(i["src"]) for i in broken))

    severe = _console_errors(driver)
    if severe:
        failures.append("console: " + " | ".join(severe))

    hscroll = driver.execute_script(_HSCROLL_JS)
    scrolling = [h for h in hscroll if h["el"].startswith("table")]
    if scrolling:
        failures.append(
            f"tables: {len(scrolling)} scroll sideways: "
            + ", ".join(f"{h['el']} {h['content']} px in {h['box']} px" for h in scrolling)
        )
    facts = {
        "math": {k: v for k, v in math.items() if k != "text"},
        "scrollWidth": wide["scrollWidth"],
        "innerWidth": wide["innerWidth"],
        "hscroll": hscroll,
        "failures": failures,
    }
    return failures, facts


# --------------------------------------------------------------------------- tests


@pytest.mark.skipif(not PAGES, reason="PyYAML missing: cannot read _toc.yml")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: Path(p).name)
def test_page_in_browser(driver, base_url, page):
    failures, facts = _check_page(driver, base_url, f"{base_url}/{page}.html")
    _screenshot(driver, Path(page).name)
    (SCREENSHOTS / f"{Path(page).name}.json").write_text(json.dumps(facts, indent=1))
    assert not failures, f"{page}.html at {WIDTH}x{HEIGHT}:\n" + "\n".join(failures)


# A page that fails every check, to show that each check can fail.
_BROKEN_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>broken</title></head>
<body>
<p class="math">\\(x^2\\)</p>
<p>$$ y = 1 $$</p>
<table class="too-wide" style="width: 3000px"><tr><td>wide</td></tr></table>
<main><table class="scrolls" style="display: block; overflow-x: auto; max-width: 200px">
<tr><td style="white-space: nowrap">a row far wider than its two hundred pixel box</td></tr>
</table></main>
<img src="missing.png" alt="missing">
<script>console.error("deliberate error");</script>
</body></html>
"""


def test_checks_fail_on_a_broken_page(driver, tmp_path):
    """The checks are live: a page with raw TeX and no MathJax, a 3000 px table, a table
    scrolling in its box, a missing image and a console error fails each of them
    (independent of the book)."""
    (tmp_path / "broken.html").write_text(_BROKEN_PAGE, encoding="utf-8")
    with _serve(tmp_path) as url:
        failures, _ = _check_page(driver, url, f"{url}/broken.html")
    text = "\n".join(failures)
    assert "MathJax did not load" in text, text
    assert "raw TeX delimiters ['\\\\(', '$$']" in text, text
    assert "width: page is" in text and "table.too-wide" in text, text
    assert "tables: 1 scroll sideways: table.scrolls" in text, text
    assert "images: not loaded: missing.png" in text, text
    assert "deliberate error" in text and "missing.png - Failed to load resource" in text, text


@pytest.mark.skipif("book/ratio" not in PAGES, reason="the ratio page is not in _toc.yml")
def test_page_contents_in_browser(driver, base_url):
    """At WIDTH the page's "Contents" sidebar is a drawer (_static/wide.css): the top bar's
    toggle is shown and opens it, with the page's sections as links."""
    _fresh_visit(driver, base_url)
    driver.get(f"{base_url}/book/ratio.html")
    toggles = driver.find_elements("css selector", ".bd-header button.secondary-toggle")
    shown = [t for t in toggles if t.is_displayed()]
    assert shown, "no visible contents toggle in the top bar"
    hidden = driver.execute_script(
        "const s = document.getElementById('pst-secondary-sidebar');"
        "return s.getBoundingClientRect().left >= window.innerWidth"
        " || getComputedStyle(s).visibility === 'hidden';"
    )
    assert hidden, "the contents sidebar takes room beside the article"
    shown[0].click()
    links = driver.execute_script(
        "const d = document.getElementById('pst-secondary-sidebar-modal');"
        "if (!d || !d.open) return null;"
        "return Array.from(d.querySelectorAll('nav.page-toc a'))"
        ".filter((a) => a.getBoundingClientRect().width > 0).map((a) => a.textContent.trim());"
    )
    assert links, "the contents drawer did not open with the page's sections"
    assert any("Table 2" in text for text in links), links


def test_search_finds_results(driver, base_url):
    from selenium.webdriver.support.ui import WebDriverWait

    _fresh_visit(driver, base_url)
    driver.get(f"{base_url}/search.html?q=FaAlGrad")
    wait = WebDriverWait(driver, LOAD_TIMEOUT)
    # searchtools.js writes a summary ("Search finished, found N pages ...") when done.
    wait.until(
        lambda d: d.execute_script(
            "const s = document.querySelector("
            "'#search-results .search-summary, #search-results p');"
            "return s && /found|did not match/i.test(s.innerText);"
        )
    )
    hits = driver.execute_script(
        "return Array.from(document.querySelectorAll('#search-results ul.search li a'))"
        ".map(a => a.getAttribute('href'));"
    )
    summary = driver.execute_script(
        "return document.querySelector('#search-results').innerText.slice(0, 200);"
    )
    _screenshot(driver, "search")
    severe = _console_errors(driver)
    assert hits, f"search.html?q=FaAlGrad found nothing: {summary!r}"
    assert not severe, f"console errors on the search page: {severe}"
