"""Read the built book in a real browser, as a reader would, and fail on what a reader would see.

    python -m tools.check_site                  # checks _build/html, screenshots into _build/screenshots
    python -m tools.check_site --find-browser   # only say whether headless Chromium is there

`make check-site` builds the book and runs this. The site is served on
127.0.0.1 (a port the system picks) and every page is opened in headless
Chromium, driven by Playwright (pinned in requirements.txt; it drives the
system's Chromium, it downloads no browser). Every page is read twice, in the
light and in the dark theme, and once more from ``file://``. A page fails on:

* maths left untypeset (``\\(``, ``\\[``, ``$$`` in its text, or a ``.math``
  element MathJax did not render) or a MathJax error;
* any request to an address other than the loopback one (the browser also
  has every other host name mapped to nothing, so such a request can't leave);
* an image, script, stylesheet or font that fails to load;
* a link within the site, or a cross-reference, to a page or anchor that
  does not exist;
* a JavaScript error (an uncaught exception or a console error);
* an animation whose "next frame" and "last frame" buttons or slider do not
  change the frame it shows;
* a figure without a caption, or an image without alt text;
* in the dark theme, caption or figure text whose contrast with its
  background is below 4.5:1 (WCAG AA);
* a search (``search.html?q=convolution``) that finds nothing or logs an
  error, over http and from ``file://``;
* a "download .ipynb" file (``_sources/...ipynb``) that differs from the
  notebook in the repository.

Launch buttons (Binder, Colab) and the repository links are links to other
sites, not loads: following them is the reader's choice, so they are not
requests and are not checked.

A full-page screenshot of each page in each theme, and one of each
animation, goes into the screenshots folder for a person to look at.
"""

import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import threading
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIN_CONTRAST = 4.5
SEARCH_WORD = "convolution"
TIMEOUT_MS = 30_000
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = (
    "headless Chromium is needed for `make check-site` and was not found.\n"
    "  Debian/Ubuntu:  sudo apt-get install chromium\n"
    "  Fedora:         sudo dnf install chromium\n"
    "  macOS:          brew install --cask chromium\n"
    "or point CHROMIUM at any Chromium or Chrome executable: "
    "make check-site CHROMIUM=/path/to/chrome")

# Run in the page once it has loaded and MathJax has finished.
READ_PAGE = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const main = document.querySelector('main') || document.body;
  const problems = [];
  // Text a reader sees, without code, scripts and typeset maths.
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight, mjx-assistive-mml')
      .forEach(e => e.remove());
  const text = copy.textContent;
  for (const raw of ['\\(', '\\[', '$$']) {
    const at = text.indexOf(raw);
    if (at >= 0) problems.push(`untypeset maths: ${JSON.stringify(text.slice(Math.max(0, at - 30), at + 50))}`);
  }
  main.querySelectorAll('.math').forEach(e => {
    if (!e.querySelector('mjx-container') && e.tagName !== 'MJX-CONTAINER') {
      problems.push(`untypeset maths element: ${JSON.stringify(e.textContent.slice(0, 80))}`);
    }
  });
  main.querySelectorAll('mjx-merror, [data-mjx-error]').forEach(e => {
    problems.push(`MathJax error: ${e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80)}`);
  });
  const formulas = main.querySelectorAll('mjx-container').length;
  // Images: loaded, with alt text.
  document.querySelectorAll('img').forEach(img => {
    const name = (img.getAttribute('src') || '').slice(0, 80);
    if (!img.complete || img.naturalWidth === 0) problems.push(`image did not load: ${name}`);
    if (main.contains(img) && !(img.getAttribute('alt') || '').trim()) problems.push(`image without alt text: ${name || img.id}`);
  });
  // Figures: captioned; output images only inside figures.
  main.querySelectorAll('figure').forEach(f => {
    const caption = f.querySelector('figcaption');
    if (!caption || !caption.textContent.trim()) problems.push(`figure without caption: ${f.id || f.outerHTML.slice(0, 80)}`);
  });
  main.querySelectorAll('.cell_output img').forEach(img => {
    if (!img.closest('figure')) problems.push(`output image outside a captioned figure: ${(img.getAttribute('src') || img.id).slice(0, 60)}`);
  });
  // Cross-references Sphinx could not resolve are rendered without a link.
  main.querySelectorAll('.xref').forEach(x => {
    if (!x.closest('a') && !x.closest('dt') && !x.closest('.sig') && !x.closest('.modindextable')) problems.push(`unresolved cross-reference: ${x.textContent.slice(0, 60)}`);
  });
  if (/\?\?/.test(copy.textContent.replace(/\s+/g, ' ').match(/(Fig\.|Figure|Eq\.|Equation|Table) \?\?/) || '')) {
    problems.push('a reference shows "??"');
  }
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const ids = [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.getAttribute('name'));
  return {problems, formulas, links, ids, animations: document.querySelectorAll('.animation').length};
}
"""

# Contrast of every text inside a figure (captions included) with what is behind it.
CONTRAST = r"""
(minimum) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgba = css => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000'; ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const problems = [];
  let checked = 0;
  const main = document.querySelector('main') || document.body;
  const seen = new Set();
  main.querySelectorAll('figure, figcaption, .caption').forEach(root => {
    [root, ...root.querySelectorAll('*')].forEach(el => {
      if (seen.has(el)) return;
      seen.add(el);
      const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
      if (!own || !el.getClientRects().length) return;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') return;
      const bg = background(el);
      const fg = over(rgba(style.color), bg);
      const r = ratio(fg, bg);
      checked += 1;
      if (r < minimum) problems.push(`dark-mode contrast ${r.toFixed(2)}:1 < ${minimum}:1 for ${JSON.stringify(own.slice(0, 50))} (${style.color} on rgb(${bg.slice(0, 3).map(Math.round)}))`);
    });
  });
  return {problems, checked};
}
"""


def find_browser(explicit=None):
    """The Chromium executable to drive, or None."""
    for candidate in [explicit, os.environ.get("CHROMIUM"), *BROWSERS]:
        if not candidate:
            continue
        path = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if path:
            return path
    return None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def serve(directory):
    """Serve ``directory`` on 127.0.0.1 from a background thread; return the server."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.IGNORECASE)


def site_pages(site):
    """Every HTML page of the site (not the copied sources or assets), in a fixed order,
    and the redirects among them (Jupyter Book's index.html) as {page: target}."""
    skip = {"_static", "_sources", "_images"}
    pages, redirects = [], {}
    for path in sorted(site.rglob("*.html")):
        name = path.relative_to(site).as_posix()
        if skip & set(path.relative_to(site).parts):
            continue
        head = path.read_text(encoding="utf-8", errors="replace")[:2000]
        match = REDIRECT.search(head) if len(head) < 500 else None
        if match:
            redirects[name] = urllib.parse.urljoin(name, match.group(1))
        else:
            pages.append(name)
    return pages, redirects


def screenshot_name(page, suffix):
    return page.removesuffix(".html").replace("/", "_") + suffix + ".png"


class Checker:
    def __init__(self, site, screenshots, browser_path):
        self.site = site
        self.screenshots = screenshots
        self.browser_path = browser_path
        self.problems = []
        self.formulas = {}
        self.ids = {}
        self.links = {}
        self.animations = 0
        self.contrast_checked = 0
        self.shots = []
        self.searches = {}
        self.downloads = 0

    def problem(self, page, message):
        self.problems.append(f"{page}: {message}")

    def watch(self, page, tab, origin, where):
        """Record every failed load, outside request and JavaScript error of ``tab``."""
        allowed = (origin, "file://", "data:", "blob:", "about:")

        def route(route):
            url = route.request.url
            if url.startswith(allowed):
                route.continue_()
            else:
                self.problem(page, f"{where}: request leaves the loopback address: {url[:120]}")
                route.abort()

        tab.route("**/*", route)
        tab.on("requestfailed", lambda r: r.url.startswith(allowed) and self.problem(
            page, f"{where}: {r.resource_type} failed to load: {r.url[:120]} ({r.failure})"))
        tab.on("response", lambda r: r.status >= 400 and self.problem(
            page, f"{where}: {r.request.resource_type} {r.url[:120]} answered {r.status}"))
        tab.on("pageerror", lambda e: self.problem(page, f"{where}: JavaScript error: {e}"))
        tab.on("console", lambda m: m.type == "error" and self.problem(
            page, f"{where}: console error: {m.text[:200]}"))

    def read(self, context, page, url, where, dark=False, shoot=True):
        tab = context.new_page()
        origin = url[:-len(page)] if url.startswith("http") else "file://"
        self.watch(page, tab, origin, where)
        tab.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        result = tab.evaluate(READ_PAGE)
        for message in result["problems"]:
            self.problem(page, f"{where}: {message}")
        if dark:
            theme = tab.evaluate("document.documentElement.dataset.theme")
            if theme != "dark":
                self.problem(page, f"{where}: the page did not switch to its dark theme ({theme!r})")
            contrast = tab.evaluate(CONTRAST, MIN_CONTRAST)
            self.contrast_checked += contrast["checked"]
            for message in contrast["problems"]:
                self.problem(page, f"{where}: {message}")
        if shoot:
            suffix = ".dark" if dark else ""
            path = self.screenshots / screenshot_name(page, suffix)
            tab.screenshot(path=str(path), full_page=True)
            self.shots.append(path)
            for index, animation in enumerate(tab.locator(".animation").all()):
                animation.scroll_into_view_if_needed()
                path = self.screenshots / screenshot_name(page, f".animation-{index + 1}{suffix}")
                target = tab.locator("figure:has(.animation)").nth(index)
                (target if target.count() else animation).screenshot(path=str(path))
                self.shots.append(path)
        tab.close()
        return result

    def check_animations(self, context, page, url):
        """Each player's buttons and slider must change the frame it shows."""
        tab = context.new_page()
        tab.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        for index, animation in enumerate(tab.locator(".animation").all()):
            name = f"animation {index + 1}"
            image = animation.locator("img").first
            tab.evaluate("el => el.scrollIntoView()", animation.element_handle())
            animation.get_by_role("button", name="Pause").click()
            animation.get_by_role("button", name="First frame").click()
            first = image.get_attribute("src")
            animation.get_by_role("button", name="Next frame").click()
            second = image.get_attribute("src")
            animation.get_by_role("button", name="Last frame").click()
            last = image.get_attribute("src")
            slider = animation.locator("input[type=range]")
            slider.fill("0")
            slider.dispatch_event("input")
            back = image.get_attribute("src")
            if not first or first == second:
                self.problem(page, f"{name}: 'Next frame' does not change the frame")
            if last in (first, second):
                self.problem(page, f"{name}: 'Last frame' does not change the frame")
            if back != first:
                self.problem(page, f"{name}: the slider does not go back to the first frame")
            self.animations += 1
        tab.close()

    def check_search(self, context, url, where, word=SEARCH_WORD):
        """The search page finds ``word``, and nothing goes wrong while it shows the results."""
        tab = context.new_page()
        origin = url[:-len("search.html")] if url.startswith("http") else "file://"
        self.watch("search.html", tab, origin, f"search ({where})")
        tab.goto(f"{url}?q={word}", wait_until="load", timeout=TIMEOUT_MS)
        try:
            tab.wait_for_function("document.querySelectorAll('#search-results li').length > 0", timeout=TIMEOUT_MS)
            tab.wait_for_timeout(1000)  # let the result summaries load (or fail)
        except Exception:
            self.problem("search.html", f"search ({where}): no result for {word!r}")
        self.searches[where] = tab.evaluate("document.querySelectorAll('#search-results li').length")
        tab.close()

    def check_links(self, origin):
        """Every link within the site names a file that exists and an anchor on that page."""
        count = 0
        for page, links in self.links.items():
            for link in links:
                if not link.startswith(origin):
                    continue
                count += 1
                parsed = urllib.parse.urlsplit(link)
                target = urllib.parse.unquote(parsed.path).lstrip("/")
                path = self.site / target
                if path.is_dir():
                    path, target = path / "index.html", (target.rstrip("/") + "/index.html").lstrip("/")
                if not path.is_file():
                    self.problem(page, f"broken link: {link[len(origin):]}")
                    continue
                source = ROOT / target.removeprefix("_sources/")
                if target.startswith("_sources/") and target.endswith(".ipynb") and source.is_file():
                    self.downloads += 1
                    if path.read_bytes() != source.read_bytes():
                        self.problem(page, f"the download {target} differs from {source.relative_to(ROOT)}")
                elif parsed.fragment and target in self.ids:
                    if urllib.parse.unquote(parsed.fragment) not in self.ids[target]:
                        self.problem(page, f"broken anchor: {link[len(origin):]}")
        return count

    def run(self):
        from playwright.sync_api import sync_playwright

        self.screenshots.mkdir(parents=True, exist_ok=True)
        for old in self.screenshots.glob("*.png"):
            old.unlink()
        pages, redirects = site_pages(self.site)
        for page, target in redirects.items():
            if target.split("#")[0] not in pages:
                self.problem(page, f"redirects to a page that does not exist: {target}")
        server = serve(self.site)
        origin = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=self.browser_path, headless=True,
                    args=["--disable-background-networking", "--no-first-run",
                          # any host but the loopback one resolves to nothing
                          "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
                light = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
                dark = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
                for context in (light, dark):
                    context.set_default_timeout(TIMEOUT_MS)
                for page in pages:
                    url = origin + page
                    result = self.read(light, page, url, "light")
                    self.formulas[page] = result["formulas"]
                    self.links[page] = result["links"]
                    self.ids[page] = set(result["ids"])
                    dark_result = self.read(dark, page, url, "dark", dark=True)
                    if dark_result["formulas"] != result["formulas"]:
                        self.problem(page, "dark: a different number of formulas was typeset")
                    local = self.read(light, page, (self.site / page).resolve().as_uri(), "file://", shoot=False)
                    if local["formulas"] != result["formulas"]:
                        self.problem(page, f"file://: {local['formulas']} formulas typeset, "
                                           f"{result['formulas']} over http")
                    if result["animations"]:
                        self.check_animations(light, page, url)
                if "search.html" in pages:
                    self.check_search(light, origin + "search.html", "http")
                    self.check_search(light, (self.site / "search.html").resolve().as_uri(), "file://")
                browser.close()
        finally:
            server.shutdown()
        links = self.check_links(origin)
        return pages, links


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("--browser", help="Chromium executable (default: $CHROMIUM, then chromium on PATH)")
    parser.add_argument("--find-browser", action="store_true", help="only check that Chromium is there")
    args = parser.parse_args(argv)

    browser = find_browser(args.browser)
    if browser is None:
        print(f"check-site: {INSTALL_HINT}", file=sys.stderr)
        return 2
    if args.find_browser:
        print(f"check-site: using {browser}")
        return 0
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"check-site: no built site in {site}: run `make book` first", file=sys.stderr)
        return 2

    checker = Checker(site, args.screenshots.resolve(), browser)
    pages, links = checker.run()
    formulas = sum(checker.formulas.values())
    print(f"check-site: {len(pages)} pages (light, dark and file://), {formulas} formulas typeset, "
          f"{links} internal links checked, {checker.animations} animations played, "
          f"{checker.contrast_checked} dark-mode figure texts checked for contrast, "
          f"{checker.downloads} .ipynb downloads equal to the chapters, search results "
          + ", ".join(f"{n} ({where})" for where, n in checker.searches.items()))
    print(f"check-site: {len(checker.shots)} screenshots in {checker.screenshots}")
    if checker.problems:
        print(f"check-site: {len(checker.problems)} problems:", file=sys.stderr)
        for message in checker.problems:
            print(f"  {message}", file=sys.stderr)
        return 1
    print("check-site: no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
