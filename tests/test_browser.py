"""A real browser (the system's headless Chromium, driven by Playwright) uses the page.

It sets a prefix and a length range, generates, checks that every name shown obeys
them, scores a name and checks that the coloured surprisal letters appear. A
screenshot is saved to test-artifacts/ (CI keeps it as an artefact).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from namesmith.checkpoint import save_checkpoint
from namesmith.corpus import name_hashes
from namesmith.models.gru import GRU
from namesmith.vocab import Vocab
from namesmith.web.server import App, Server

from conftest import fill_form, two_style_model

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _two_styles(folder: Path) -> Path:
    return two_style_model(folder, per_style=800, steps=300, mix_ngram=0)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    vocab = Vocab.from_names(["abcdefghijklmnopqrstuvwxyz"])
    model = GRU.create({"vocab_size": vocab.size, "hidden": 24, "embed": 8}, np.random.default_rng(0))
    model.params["by"][0] += 1.0
    path = tmp_path_factory.mktemp("browser") / "names.npz"
    save_checkpoint(path, model, vocab, {"corpus": {"source": "builtin:test", "names": 3, "lowercase": True},
                                          "metrics": {"val_nll": 2.71}},
                    extras={"known_hashes": name_hashes(["anna", "mara", "marco"])})
    styled = _two_styles(tmp_path_factory.mktemp("styled"))
    srv = Server(App({"names": str(path), "styled": str(styled)})).start()
    yield srv
    srv.stop()


def generate(page) -> None:
    """Click Generate and wait for that request's answer (the page also generates once on opening)."""
    page.wait_for_function("!document.getElementById('generate').disabled")
    page.eval_on_selector("#gen-status", "e => { e.textContent = ''; }")
    page.click("#generate")
    page.wait_for_function("/ names in /.test(document.getElementById('gen-status').textContent)")


def test_generate_and_score_in_a_real_browser(browser, server):
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone-sized screen
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server.url) else None)
    page.goto(server.url + "/")
    page.wait_for_selector("#model option", state="attached")
    page.wait_for_function("document.getElementById('model-info').textContent.length > 0")
    info = page.inner_text("#model-info")
    assert "GRU network" in info and "2.710" in info and "builtin:" not in info  # plain words, not jargon
    page.wait_for_function("document.getElementById('gen-status').textContent.startsWith('20 names')")
    assert page.locator("#results li").count() == 20  # names as soon as the page opens
    assert page.is_visible("#results-legend")

    fill_form(page, prefix="Ma", min_len=4, max_len=6, n=15)
    page.click("#generate")
    page.wait_for_function("document.getElementById('gen-status').textContent.startsWith('15 names')")
    names = page.locator("#results .name").all_inner_texts()
    assert len(names) == 15
    for n in names:
        assert n.startswith("Ma") and 4 <= len(n) <= 6, n
    assert page.locator("#results .bar span").count() == 15
    assert page.locator("#results .tag.novel").count() == 15  # novel-only is on by default
    assert not page.is_disabled("#download")

    # an impossible request is explained inline, in plain words
    page.fill("#min_len", "9")
    page.click("#generate")
    page.wait_for_selector("#gen-error:not([hidden])")
    assert "min length" in page.inner_text("#gen-error") and "max length" in page.inner_text("#gen-error")

    # keyboard only: type a name and press Enter in the score box
    page.focus("#score-name")
    page.keyboard.type("Marina")
    page.keyboard.press("Enter")
    page.wait_for_selector("#score-result .letters span")
    letters = page.locator("#score-result .letters span")
    assert letters.count() == len("marina") + 1  # the letters and the end token
    assert "".join(letters.all_inner_texts()[:-1]) == "Marina"
    assert letters.first.get_attribute("style").startswith("background")
    assert "log-probability" in page.inner_text("#score-result")

    # a letter the model never saw: read as its plain form, and said in plain words (no "end token")
    page.fill("#score-name", "Zoë")
    page.keyboard.press("Enter")
    page.wait_for_selector("#score-result li:has-text('read as')")
    result = page.inner_text("#score-result")
    assert "read as “Zoe”" in result and "end token" not in result

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
    assert not external, f"the page made external requests: {external}"
    page.close()


def test_styles_blends_and_classify_in_a_real_browser(browser, server):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server.url) else None)
    page.goto(server.url + "/")
    page.wait_for_selector("#model option", state="attached")
    assert page.is_hidden("#style-controls") and page.is_hidden("#classify-panel")  # the first model has no styles
    page.select_option("#model", "styled")
    page.wait_for_selector("#style-controls:not([hidden])")
    assert page.locator("#style option").all_inner_texts()[1:] == ["Alpha", "Omega"]  # not cut in a narrow picker
    assert page.is_disabled("#style2") and page.is_disabled("#blend")

    # one style: every name in its alphabet (temperature 0.3: the rare leaks of maximum likelihood vanish)
    page.select_option("#style", "Omega")
    page.fill("#min_len", "3")
    page.fill("#max_len", "8")
    page.eval_on_selector("#temperature", "e => { e.value = '0.3'; e.dispatchEvent(new Event('input')); }")
    generate(page)
    names = [n.lower() for n in page.locator("#results .name").all_inner_texts()]
    assert names and all(set(n) <= set("stuvwxyz") for n in names), names

    # a 50/50 blend with the other style: letters of both alphabets only, and names from both
    page.select_option("#style2", "Alpha")
    assert not page.is_disabled("#blend")
    page.eval_on_selector("#blend", "e => { e.value = '0.5'; e.dispatchEvent(new Event('input')); }")
    assert page.inner_text("#blend-out") == "50% / 50%"
    page.eval_on_selector("#temperature", "e => { e.value = '1'; e.dispatchEvent(new Event('input')); }")
    page.fill("#n", "40")
    page.click("#more summary")  # the seed is among the "More controls"
    page.fill("#seed", "7")
    generate(page)
    assert page.locator("#results li").count() == 40
    names = [n.lower() for n in page.locator("#results .name").all_inner_texts()]
    letters = set("".join(names))
    assert letters <= set("abcdefghstuvwxyz") and letters & set("abcdefgh") and letters & set("stuvwxyz")

    # which style does a name sound like? keyboard only
    page.focus("#classify-name")
    page.keyboard.type("Zyxt")
    page.keyboard.press("Enter")
    page.wait_for_selector("#classify-result li")
    rows = page.locator("#classify-result li").all_inner_texts()
    assert rows[0].startswith("Omega") and "%" in rows[0]
    page.screenshot(path=str(ARTIFACTS / "web-page-styles.png"), full_page=True)

    # "More like this": the name goes into "Like these names" and new names close to it come back, drawn
    # under the styles it sounds like
    page.select_option("#style", "")
    page.fill("#seed", "")
    page.fill("#n", "10")
    first = page.locator("#results .name").first.inner_text()
    page.eval_on_selector("#gen-status", "e => { e.textContent = ''; }")
    page.locator("#results button.like").first.click()
    page.wait_for_function("/ names like /.test(document.getElementById('gen-status').textContent)")
    assert page.input_value("#like") == first
    assert "drawn under" in page.inner_text("#gen-status")
    names = page.locator("#results .name").all_inner_texts()
    assert len(names) == 10 and first not in names
    page.screenshot(path=str(ARTIFACTS / "web-page-like.png"), full_page=True)
    page.select_option("#model", "names")  # another model's classification does not stay on screen
    assert page.locator("#classify-result li").count() == 0
    page.select_option("#model", "styled")
    assert not external, f"the page made external requests: {external}"
    page.close()
