"""The text WebShop: pages, clickables and navigation of one shopping session.

Pages and their text observations (WebShop's ``text`` mode: visible texts joined by ``[SEP]``;
the instruction header is shown on the search page only, the prompt carries the task):

- ``search``: ``WebShop [SEP] Instruction: [SEP] <instruction> [SEP] Search``; search bar on.
- ``results``: ``Back to Search [SEP] Page p (Total results: n) [SEP] < Prev [SEP] Next >
  [SEP] <ASIN> [SEP] <Title> [SEP] <Price> ...``, 10 products a page out of at most 50 hits;
  ``< Prev`` only after page 1, ``Next >`` only while ``10 * p < n``.
- ``item``: ``Back to Search [SEP] < Prev [SEP] <option name> [SEP] <value> ... [SEP] <Title>
  [SEP] Price: <Price> [SEP] Rating: <Rating> [SEP] Description [SEP] Features [SEP] Reviews
  [SEP] Buy Now``.
- ``Description`` / ``Features`` / ``Reviews`` sub-pages: ``Back to Search [SEP] < Prev [SEP]
  <text>``.
- ``done``: ``Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] <r>``.

With ``header=True`` (the original SkillRL's simple-text pages, as its prompt style expects them)
every page but the search page and the done page starts with ``Instruction: [SEP] <instruction>
[SEP]``, and a Reviews page without reviews shows nothing after ``< Prev``.

Clickables are the lower-cased button texts, the lower-cased ASINs of the listed products and
the option values (WebShop's ``get_available_actions``), in page order; the search page's
``search`` button is listed but cannot be clicked (as in WebShop). Navigation follows the
reference server: ``back to search`` restarts the session (keywords, product and options
cleared); ``< prev`` goes results -> previous page, item -> results (options cleared),
sub-page -> item; clicking an option value selects it for its option name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_system.environments.webshop.catalog import Catalog, Goal
from agent_system.environments.webshop.search import ProductSearch

PRODUCT_WINDOW = 10
SEP = " [SEP] "
END_BUTTON = "Buy Now"
NEXT_PAGE = "Next >"
PREV_PAGE = "< Prev"
BACK_TO_SEARCH = "Back to Search"
SUB_PAGES = ("Description", "Features", "Reviews")
PAGES = ("search", "results", "item", "sub", "done")


@dataclass
class ShopSession:
    """Mutable state of one shopping session (one episode)."""

    goal: Goal
    page: str = "search"
    keywords: str = ""
    hits: list[str] = field(default_factory=list)
    """ASINs the last search returned, best first."""
    page_num: int = 1
    asin: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    """Selected options of the current product, {option name: value}."""
    sub_page: str | None = None
    visited: set[str] = field(default_factory=set)
    reward: float | None = None

    # --- what the page shows -------------------------------------------------------------
    def has_search_bar(self) -> bool:
        return self.page == "search"

    def page_products(self) -> list[str]:
        start = (self.page_num - 1) * PRODUCT_WINDOW
        return self.hits[start : start + PRODUCT_WINDOW]

    def _option_owner(self, catalog: Catalog) -> dict[str, str]:
        """Option value -> option name on the item page (a later name wins a shared value)."""
        if self.asin is None:
            return {}
        owner: dict[str, str] = {}
        for name, values in (catalog.by_asin[self.asin].get("options") or {}).items():
            for value in values:
                owner[str(value)] = name
        return owner

    def clickables(self, catalog: Catalog) -> list[str]:
        """Clickable names on the current page (lower-cased buttons, ASINs, option values)."""
        if self.page == "search":
            return ["search"]
        if self.page == "results":
            out = [BACK_TO_SEARCH.lower()]
            if self.page_num > 1:
                out.append(PREV_PAGE.lower())
            if self.page_num * PRODUCT_WINDOW < len(self.hits):
                out.append(NEXT_PAGE.lower())
            out += [a.lower() for a in self.page_products()]
            return list(dict.fromkeys(out))
        if self.page == "item":
            out = [BACK_TO_SEARCH.lower(), PREV_PAGE.lower(), *(s.lower() for s in SUB_PAGES), END_BUTTON.lower()]
            out += list(self._option_owner(catalog))
            return list(dict.fromkeys(out))
        if self.page == "sub":
            return [BACK_TO_SEARCH.lower(), PREV_PAGE.lower()]
        return []

    def observation(self, catalog: Catalog, *, header: bool = False) -> str:
        """The page as WebShop's simple text mode shows it (``header``: see the module docstring)."""
        text = self._page_text(catalog, header)
        if header and self.page not in ("search", "done"):
            return SEP.join(["Instruction:", self.goal["instruction_text"], text])
        return text

    def _page_text(self, catalog: Catalog, original: bool) -> str:
        if self.page == "search":
            return SEP.join(["WebShop", "Instruction:", self.goal["instruction_text"], "Search"])
        if self.page == "results":
            parts = [BACK_TO_SEARCH, f"Page {self.page_num} (Total results: {len(self.hits)})"]
            if self.page_num > 1:
                parts.append(PREV_PAGE)
            if self.page_num * PRODUCT_WINDOW < len(self.hits):
                parts.append(NEXT_PAGE)
            for asin in self.page_products():
                p = catalog.by_asin[asin]
                parts += [asin, p.get("Title", ""), p.get("Price", "")]
            return _join(parts)
        if self.page == "item":
            assert self.asin is not None
            p = catalog.by_asin[self.asin]
            parts = [BACK_TO_SEARCH, PREV_PAGE]
            for name, values in (p.get("options") or {}).items():
                parts += [name, *map(str, values)]
            parts += [p.get("Title", ""), f"Price: {p.get('Price', '')}", f"Rating: {p.get('Rating', 'N.A.')}"]
            parts += [*SUB_PAGES, END_BUTTON]
            return _join(parts)
        if self.page == "sub":
            assert self.asin is not None
            texts = _sub_page_texts(catalog.by_asin[self.asin], self.sub_page, placeholder=not original)
            return _join([BACK_TO_SEARCH, PREV_PAGE, *texts])
        return SEP.join(["Thank you for shopping with us!", "Your score (min 0.0, max 1.0)", f"{self.reward}"])

    # --- navigation ------------------------------------------------------------------------
    def restart(self) -> None:
        """Back to the search page with a clean session (WebShop's index route)."""
        self.page, self.keywords, self.hits, self.page_num = "search", "", [], 1
        self.asin, self.options, self.sub_page, self.visited = None, {}, None, set()

    def search(self, query: str, engine: ProductSearch) -> None:
        self.keywords = query
        self.hits = engine.search(query)
        self._show_results(1)

    def _show_results(self, page_num: int) -> None:
        self.page, self.page_num, self.asin, self.options, self.sub_page = "results", page_num, None, {}, None

    def click(self, name: str, catalog: Catalog) -> bool:
        """Apply a click on ``name`` (lower-cased clickable). Returns True when it was Buy Now.

        Raises:
            ValueError: ``name`` is not clickable here.
        """
        if name not in self.clickables(catalog) or name == "search":
            raise ValueError(f"{name!r} is not clickable on the {self.page} page")
        if name == END_BUTTON.lower():
            return True
        if name == BACK_TO_SEARCH.lower():
            self.restart()
        elif name == NEXT_PAGE.lower() and self.page == "results":
            self._show_results(self.page_num + 1)
        elif name == PREV_PAGE.lower() and self.page == "results":
            self._show_results(self.page_num - 1)
        elif name == PREV_PAGE.lower() and self.page == "sub":
            self.page, self.sub_page = "item", None
        elif name == PREV_PAGE.lower() and self.page == "item":
            self._show_results(self.page_num)
        elif self.page == "item" and name in {s.lower() for s in SUB_PAGES}:
            self.page, self.sub_page = "sub", next(s for s in SUB_PAGES if s.lower() == name)
        elif self.page == "results":
            self.asin = name.upper()
            self.visited.add(self.asin)
            self.page = "item"
        else:  # an option value on the item page
            self.options[self._option_owner(catalog)[name]] = name
        return False


def _join(parts: list[Any]) -> str:
    return SEP.join(str(p).strip() for p in parts if str(p).strip())


def _sub_page_texts(product: dict[str, Any], sub_page: str | None, *, placeholder: bool = True) -> list[str]:
    if sub_page == "Description":
        return [product.get("Description", "")]
    if sub_page == "Features":
        bullets = product.get("BulletPoints") or []
        return list(bullets) if isinstance(bullets, list) else [str(bullets)]
    reviews = product.get("Reviews") or []
    if not reviews:
        return ["No reviews found"] if placeholder else []
    out: list[str] = []
    for r in reviews:
        out += [f'"{r.get("title", "")}"', str(r.get("score", r.get("stars", ""))), str(r.get("body", r.get("review", "")))]
    return out
