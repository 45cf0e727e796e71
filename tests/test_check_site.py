"""tools/check_site.py catches what a reader would see: checked on a tiny site
made here, with one good page and one page carrying every kind of fault."""

import pytest

from tools import check_site

GOOD = """<!DOCTYPE html><html data-theme="light"><head><title>good</title>
<script>if (matchMedia('(prefers-color-scheme: dark)').matches) document.documentElement.dataset.theme = 'dark';</script>
</head><body><main><p id="here">Plain text, <a href="bad.html#there">a link</a>.</p>
<figure><img src="dot.png" alt="a black dot"><figcaption>A dot.</figcaption></figure></main></body></html>"""

BAD = """<!DOCTYPE html><html data-theme="light"><head><title>bad</title>
<script src="https://cdn.invalid/mathjax.js"></script>
<script>if (matchMedia('(prefers-color-scheme: dark)').matches) document.documentElement.dataset.theme = 'dark';</script>
</head><body><main><p id="there">Raw maths \\(x^2\\) and <a href="missing.html">a dead link</a>,
<a href="good.html#nowhere">a dead anchor</a>.</p>
<figure><img src="dot.png"></figure>
<figure style="background:#ddd"><img src="absent.png" alt="gone"><figcaption style="color:#bbb">Faint.</figcaption></figure>
<script>throw new Error("boom")</script></main></body></html>"""

# A 1x1 black PNG.
DOT = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")


def test_no_browser_gives_the_install_hint(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CHROMIUM", raising=False)
    assert check_site.find_browser() is None
    assert check_site.main(["--find-browser"]) == 2
    assert "apt-get install chromium" in capsys.readouterr().err


def test_the_checker_finds_every_kind_of_fault(tmp_path):
    browser = check_site.find_browser()
    if browser is None:
        pytest.skip("no Chromium here: " + check_site.INSTALL_HINT)
    pytest.importorskip("playwright")
    site = tmp_path / "html"
    site.mkdir()
    (site / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=good.html" />')
    (site / "good.html").write_text(GOOD)
    (site / "bad.html").write_text(BAD)
    (site / "dot.png").write_bytes(DOT)
    checker = check_site.Checker(site, tmp_path / "shots", browser)
    pages, links = checker.run()
    assert pages == ["bad.html", "good.html"] and links >= 3
    good = [p for p in checker.problems if p.startswith("good.html")]
    assert not good, good
    bad = "\n".join(checker.problems)
    for expected in ["request leaves the loopback address: https://cdn.invalid/mathjax.js",
                     "untypeset maths", "image without alt text", "figure without caption",
                     "image did not load", "JavaScript error: boom",
                     "broken link: missing.html", "broken anchor: good.html#nowhere",
                     "dark-mode contrast"]:
        assert expected in bad, f"{expected!r} not reported:\n{bad}"
    assert (tmp_path / "shots" / "good.png").is_file()
    assert (tmp_path / "shots" / "bad.dark.png").is_file()


# A search page that, like Sphinx's, fetches the result pages to summarise them.
SEARCH = """<!DOCTYPE html><html data-theme="light"><head><title>search</title>
<script>if (matchMedia('(prefers-color-scheme: dark)').matches) document.documentElement.dataset.theme = 'dark';</script>
</head><body><main><div id="search-results"><ul class="search"></ul></div>
<script>
const list = document.querySelector('#search-results ul');
if (new URLSearchParams(location.search).get('q')) {
  list.innerHTML = '<li><a href="good.html">good</a></li>';
  fetch('good.html').then(r => r.text()).then(t => { list.firstChild.append(' ' + t.length); });
}
</script></main></body></html>"""


def test_the_checker_searches_over_http_and_from_disk(tmp_path):
    browser = check_site.find_browser()
    if browser is None:
        pytest.skip("no Chromium here: " + check_site.INSTALL_HINT)
    pytest.importorskip("playwright")
    site = tmp_path / "html"
    site.mkdir()
    (site / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=good.html" />')
    (site / "good.html").write_text(GOOD.replace("bad.html#there", "search.html").replace(
        '<figure><img src="dot.png" alt="a black dot"><figcaption>A dot.</figcaption></figure>', ""))
    (site / "search.html").write_text(SEARCH)
    checker = check_site.Checker(site, tmp_path / "shots", browser)
    checker.run()
    assert checker.searches == {"http": 1, "file://": 1}
    problems = "\n".join(checker.problems)
    assert "search (http)" not in problems
    assert "search (file://): JavaScript error" in problems     # the fetch a browser refuses from disk
