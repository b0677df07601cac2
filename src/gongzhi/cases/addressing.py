"""Where a free-text address is: hotline notes and Open311 `address_string` → a node of the region tree.

"四川省遂宁市船山区南强街道马宗岭社区阳光花园３号楼" and "马宗岭居委会阳光花园3栋" both land on the grid
of that building. The names come from the tree itself (so ancestors' names are recognised and set aside
whatever the deployment), plus the usual spoken and written variants (居委会/村委会/街道办事处/镇人民政府).
A building address gives its grid; otherwise the deepest consistent community or street wins.

The index is per process: rebuilt when regions change, extended when buildings are added, rebuilt when
they are removed. Changes made in this process are seen at once (signals), others' within RECHECK.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import threading
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from gongzhi.core import clock
from gongzhi.core.models import Level, Region
from gongzhi.people.models import Building

# Below this score a match is shown to the dispatcher as needing a look (a single typo in a five-character
# name scores 80; in a four-character one 75).
REVIEW_LINE = 80
FUZZY_REGION_MIN = 75
FUZZY_BUILDING_MIN = 80
# Short names (马宗岭 for 马宗岭社区) are trusted less; two characters are too common to trust alone.
SHORT_NAME_SCORE = 90
TWO_CHAR_NAME_SCORE = 75
# Typos are only guessed for names whose distinctive part has at least this many characters.
FUZZY_CORE_MIN = 3
# Building keys looked at (most bigrams shared first), and of those in the area, how many are scored.
FUZZY_BUILDING_SCAN = 256
FUZZY_BUILDING_CANDIDATES = 32

ADMIN_LEVELS = [Level.PROVINCE, Level.CITY, Level.COUNTY, Level.STREET, Level.COMMUNITY]
PREFIX_LEVELS = {Level.PROVINCE, Level.CITY, Level.COUNTY}

# ---------------------------------------------------------------- normalising text

# Spoken and written variants of the committee and office names, folded to the name the tree uses.
_ADMIN_VARIANTS = {
    "社区居民委员会": "社区",
    "社区居委会": "社区",
    "社区居委": "社区",
    "居民委员会": "社区",
    "居委会": "社区",
    "村村民委员会": "村",
    "村民委员会": "村",
    "村村委会": "村",
    "村委会": "村",
    "村委": "村",
    "街道办事处": "街道",
    "街道办": "街道",
    "街办": "街道",
    "办事处": "街道",
    "镇人民政府": "镇",
    "乡人民政府": "乡",
    "镇政府": "镇",
    "乡政府": "乡",
    "区人民政府": "区",
    "县人民政府": "县",
    "市人民政府": "市",
}
_ADMIN_VARIANT = re.compile("|".join(sorted(_ADMIN_VARIANTS, key=len, reverse=True)))

# Suffixes that make a name a name of its level; what is left is the short name people also say.
_LEVEL_SUFFIXES = {
    Level.PROVINCE: ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市"),
    Level.CITY: ("自治州", "地区", "市", "盟"),
    Level.COUNTY: ("自治县", "自治旗", "新区", "区", "县", "市", "旗"),
    Level.STREET: ("街道", "苏木", "镇", "乡"),
    Level.COMMUNITY: ("社区", "嘎查", "村"),
}
# A short name followed by one of these is part of a place name (马宗岭路, 南强花园), not the region;
# nor is it when another level's suffix follows (景春社区 is not 景春街道).
_PLACE_WORDS = (
    "路|街|巷|道|桥|弄|里|苑|站|院|府|湾|郡|大道|大街|大厦|大楼|广场|花园|家园|公寓|新村|雅居|小区|山庄"
    "|公馆|公园|商场|市场|医院|学校|中学|小学|幼儿园|酒店|宾馆|超市|银行"
)
_NOT_THIS_REGION = {
    level: re.compile(
        "|".join(
            [_PLACE_WORDS]
            + [s for other, suffixes in _LEVEL_SUFFIXES.items() if other != level for s in suffixes]
        )
    )
    for level in _LEVEL_SUFFIXES
}

_CN_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十]{1,3}(?=栋|幢|号|单元|楼|层|室|期|组|座)")
# 3号楼, 3幢, 3座, 3#楼, 3# are all building 3; 301室 is room 301.
_BUILDING_WORD = re.compile(r"([0-9A-Z]+)(?:号楼|号栋|号幢|栋楼|幢|座|#楼|#)")
_ROOM_WORD = re.compile(r"(\d+)室")
_DROP = re.compile(r"[\s()\[\]{}<>【】〔〕《》「」『』\"'“”‘’]+")
_SEPARATOR = re.compile(r"[^0-9A-Z\u3400-\u9fff\U00020000-\U0002ffff]+")
_NUMBER = re.compile(r"\d+")
_NOT_A_WORD = re.compile(r"[0-9栋号单元楼层室期组|]")
SEP = "|"


def _cn_number(match: re.Match) -> str:
    """一 → 1, 十二 → 12, 二十三 → 23; digit by digit without 十 (一二 → 12)."""
    text = match.group(0)
    if "十" not in text:
        return "".join(str(_CN_DIGIT[c]) for c in text)
    tens, _sep, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return text
    return str((_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0))


def normalise(text: str) -> str:
    """The form addresses are compared in: half-width, upper case, no spaces or brackets, one word for
    each kind of building and committee, and "|" where punctuation separated parts."""
    text = unicodedata.normalize("NFKC", text or "").upper()
    text = _DROP.sub("", text)
    text = _CN_NUMBER.sub(_cn_number, text)
    text = _BUILDING_WORD.sub(r"\1栋", text)
    text = _ROOM_WORD.sub(r"\1", text)
    text = _ADMIN_VARIANT.sub(lambda m: _ADMIN_VARIANTS[m.group(0)], text)
    return _SEPARATOR.sub(SEP, text).strip(SEP)


def _short_name(name: str, level: str) -> str:
    for suffix in _LEVEL_SUFFIXES.get(level, ()):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1) if SEP not in text[i : i + 2]}


# ---------------------------------------------------------------- the index


@dataclass(frozen=True)
class AddressMatch:
    region: Region  # a grid (via a building), a community or a street
    matched: str  # the building's address (or its compound's name), or the region's name
    kind: str  # "building" (found through the buildings ledger) | "community" | "street"
    score: int  # 0–100
    needs_review: bool  # only the street is known, or the match is a guess below REVIEW_LINE


@dataclass(frozen=True)
class _Name:
    region: Region
    score: int
    short: bool  # the name without its level suffix


@dataclass(frozen=True)
class _Place:
    address: str
    grid: Region


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    key: str
    names: tuple = ()

    @property
    def short(self) -> bool:
        return all(n.short for n in self.names)


class _Lexicon:
    """Exact keys found inside a text. Keys are bucketed by their first two characters, so a position
    costs one dict lookup plus one per key length present in its bucket."""

    def __init__(self) -> None:
        self.entries: dict[str, list] = defaultdict(list)
        self.lengths: dict[str, list[int]] = {}

    def add(self, key: str, entry) -> None:
        self.entries[key].append(entry)
        lengths = self.lengths.get(key[:2], [])
        if len(key) not in lengths:
            self.lengths[key[:2]] = sorted([*lengths, len(key)], reverse=True)

    def at(self, text: str, i: int) -> Iterable[str]:
        """Keys starting at position i, longest first."""
        for n in self.lengths.get(text[i : i + 2], ()):
            key = text[i : i + n]
            if len(key) == n and key in self.entries:
                yield key


Scope = dict[int, tuple[Region, float]]  # region id → (region, score): the regions the text points at


class AddressIndex:
    """Region names and building addresses of the whole tree, ready to be found in a text."""

    def __init__(self, regions: Iterable[Region], buildings: Iterable[tuple[int, int, str, str, str]]):
        self.by_path: dict[str, Region] = {}
        self.by_id: dict[int, Region] = {}
        self.names = _Lexicon()
        self._keys_of: dict[int, list[tuple[str, bool, str]]] = {}
        fuzzy_names: dict[str, list[tuple[str, Region]]] = {Level.STREET: [], Level.COMMUNITY: []}
        for region in regions:
            self.by_path[region.path] = region
            self.by_id[region.id] = region
            if region.level not in ADMIN_LEVELS:
                continue
            name = normalise(region.name)
            if not name:
                continue
            keys = [(name, False, region.level)]
            self.names.add(name, _Name(region, 100, False))
            short = _short_name(name, region.level)
            if short != name and len(short) >= 2:
                keys.append((short, True, region.level))
                self.names.add(
                    short, _Name(region, SHORT_NAME_SCORE if len(short) > 2 else TWO_CHAR_NAME_SCORE, True)
                )
            self._keys_of[region.id] = keys
            if region.level in fuzzy_names and len(short) >= FUZZY_CORE_MIN:
                fuzzy_names[region.level].append((name, region))
        self.longest_name = max((len(n) for names in fuzzy_names.values() for n, _r in names), default=0)
        # Sorted by path, a subtree's names are one slice: (paths, names, regions) per level.
        self._fuzzy = {}
        for level, names in fuzzy_names.items():
            names.sort(key=lambda item: item[1].path)
            self._fuzzy[level] = ([r.path for _n, r in names], [n for n, _r in names], [r for _n, r in names])

        self.places = _Lexicon()
        self._strip_keys: dict[int, list[tuple[str, bool, str]]] = {}
        # Fuzzy candidates: building keys with their bigram postings and counts. They are only appended
        # to, counts last, so a reader in another thread always sees a consistent prefix.
        self.place_keys: list[str] = []
        self._fuzzy_keys: set[str] = set()
        self.postings: dict[str, np.ndarray] = {}
        self.bigram_counts = np.empty(0, dtype=np.int32)
        self.building_count = 0
        self.last_building_id = 0
        self.add_buildings(buildings)

    def add_buildings(self, buildings: Iterable[tuple[int, int, str, str, str]]) -> None:
        """Index (id, grid id, address, compound, name) rows; new buildings are added without a rebuild."""
        normalised: dict[str, str] = {}  # compound and building names repeat: normalise each once
        new_keys: list[str] = []
        for building_id, region_id, address, compound, name in buildings:
            grid = self.by_id.get(region_id)
            self.building_count += 1
            self.last_building_id = max(self.last_building_id, building_id)
            if grid is None:
                continue
            if region_id not in self._strip_keys:
                self._strip_keys[region_id] = self._ancestor_keys(grid)
            for part in (compound, name):
                if part not in normalised:
                    normalised[part] = normalise(part)
            place = _Place(address, grid)
            local = self._strip_leading(normalise(address), self._strip_keys[region_id])
            keys = {k for k in (local, normalised[compound] + normalised[name]) if self._distinctive(k)}
            new_keys += [key for key in keys if key not in self._fuzzy_keys]
            self._fuzzy_keys |= keys
            for key in keys:
                self.places.add(key, place)
            # A compound's name alone points at the grids its buildings are in (found exactly only: as a
            # guess it would outscore the building it is part of).
            if self._distinctive(normalised[compound]):
                self.places.add(normalised[compound], _Place(compound, grid))
        self._add_bigrams(new_keys)

    # ------------------------------------------------------------ building

    def _ancestor_keys(self, region: Region) -> list[tuple[str, bool, str]]:
        parts = region.path.rstrip("/").split("/")
        keys = []
        for i in range(1, len(parts) + 1):
            ancestor = self.by_path.get("/".join(parts[:i]) + "/")
            if ancestor is not None:
                keys += self._keys_of.get(ancestor.id, [])
        return sorted(keys, key=lambda k: len(k[0]), reverse=True)

    @staticmethod
    def _strip_leading(text: str, keys: list[tuple[str, bool, str]]) -> str:
        """The address without the region names it starts with: what is left names the building."""
        stripped = True
        while stripped:
            stripped = False
            text = text.lstrip(SEP)
            for key, short, level in keys:
                if text.startswith(key) and not (short and _NOT_THIS_REGION[level].match(text, len(key))):
                    text, stripped = text[len(key) :], True
                    break
        return text

    @staticmethod
    def _distinctive(key: str) -> bool:
        """Enough words to name a place: "3栋" or "2单元" alone would match everywhere."""
        return len(key) >= 3 and len(_NOT_A_WORD.sub("", key)) >= 2

    def _add_bigrams(self, keys: list[str]) -> None:
        first = len(self.place_keys)
        self.place_keys.extend(keys)
        postings: dict[str, list[int]] = defaultdict(list)
        counts = np.empty(len(keys), dtype=np.int32)
        for i, key in enumerate(keys):
            grams = _bigrams(key)
            counts[i] = len(grams)
            for gram in grams:
                postings[gram].append(first + i)
        for gram, ids in postings.items():
            added = np.array(ids, dtype=np.int32)
            self.postings[gram] = (
                np.concatenate([self.postings[gram], added]) if gram in self.postings else added
            )
        self.bigram_counts = np.concatenate([self.bigram_counts, counts])

    # ------------------------------------------------------------ finding

    def resolve(self, text: str, *, within: Region | None = None) -> AddressMatch | None:
        t = normalise(text)
        if not t:
            return None
        places = self._scan_places(t)
        # A short name inside a building's address is part of that address (金鱼花园 is not 金鱼社区).
        hits = [
            h
            for h in self._scan_names(t)
            if not (h.short and any(p.start < h.end and h.start < p.end for p in places))
        ]
        masked = self._mask(t, hits)
        scope, level = self._narrow(hits, within)

        found = self._exact_building(places, scope, level, within)
        if isinstance(found, AddressMatch):
            return found
        if found is not None:
            scope, level = found
        # A building guess needs its numbers to match exactly: it is stronger than a guessed name.
        building = self._fuzzy_building(masked, scope, within)
        if building is not None:
            return building
        if level != Level.COMMUNITY:
            guess = self._fuzzy_region(masked, Level.COMMUNITY, scope, within)
            if guess:
                scope, level = guess, Level.COMMUNITY
        if level not in (Level.STREET, Level.COMMUNITY):
            guess = self._fuzzy_region(masked, Level.STREET, scope, within)
            if guess:
                scope, level = guess, Level.STREET
        return self._region_match(scope, within)

    def _scan_names(self, t: str) -> list[_Hit]:
        """Region names in the text, longest first at each position. Province, city and county names
        only count at the start (the prefix people write before the street)."""
        hits: list[_Hit] = []
        i, leading = 0, True
        while i < len(t):
            if t[i] == SEP:
                i += 1
                continue
            hit = None
            for key in self.names.at(t, i):
                end = i + len(key)
                names = [
                    n
                    for n in self.names.entries[key]
                    if not (n.short and _NOT_THIS_REGION[n.region.level].match(t, end))
                    and (leading or n.region.level not in PREFIX_LEVELS)
                ]
                if names:
                    full = [n for n in names if not n.short]
                    hit = _Hit(i, end, key, tuple(full or names))
                    break
            if hit is None:
                i, leading = i + 1, False
                continue
            leading = leading and all(n.region.level in PREFIX_LEVELS for n in hit.names)
            hits.append(hit)
            i = hit.end
        return hits

    def _scan_places(self, t: str) -> list[_Hit]:
        """Building keys in the text; a key starting or ending in a digit must not continue a number."""
        hits = []
        for i in range(len(t)):
            if i and _is_digit(t[i]) and _is_digit(t[i - 1]):
                continue
            for key in self.places.at(t, i):
                end = i + len(key)
                if _is_digit(key[-1]) and end < len(t) and _is_digit(t[end]):
                    continue
                hits.append(_Hit(i, end, key))
        return hits

    @staticmethod
    def _mask(t: str, hits: list[_Hit]) -> str:
        """The text with recognised names replaced by separators: a typo is looked for in what is left."""
        parts, at = [], 0
        for hit in hits:
            parts += [t[at : hit.start], SEP]
            at = hit.end
        return "".join(parts) + t[at:]

    @staticmethod
    def _under(region: Region, scope: Scope | None, within: Region | None) -> bool:
        if within is not None and not region.path.startswith(within.path):
            return False
        return not scope or any(region.path.startswith(r.path) for r, _s in scope.values())

    def _names_under(
        self, level: str, scope: Scope | None, within: Region | None
    ) -> tuple[list[str], list[Region]]:
        paths, names, regions = self._fuzzy[level]
        roots = [r for r, _s in scope.values()] if scope else [within] if within else None
        if roots is None:
            return names, regions
        chosen_names, chosen_regions = [], []
        for root in roots:
            if within is not None and within.path.startswith(root.path):
                root = within
            elif within is not None and not root.path.startswith(within.path):
                continue
            # Descendants of "51/5109/" sort from "51/5109/" up to, not including, "51/51090".
            part = slice(bisect_left(paths, root.path), bisect_left(paths, root.path[:-1] + "0"))
            chosen_names += names[part]
            chosen_regions += regions[part]
        return chosen_names, chosen_regions

    def _narrow(self, hits: list[_Hit], within: Region | None) -> tuple[Scope | None, str | None]:
        """From the top level down, the regions named at each level that lie under those named above;
        a level contradicting the one above ends the descent (a community must be in the named street)."""
        by_level: dict[str, Scope] = defaultdict(dict)
        for hit in hits:
            for name in hit.names:
                region = name.region
                if within is not None and not (
                    region.path.startswith(within.path) or within.path.startswith(region.path)
                ):
                    continue
                known = by_level[region.level].get(region.id)
                if known is None or name.score > known[1]:
                    by_level[region.level][region.id] = (region, name.score)
        scope, scope_level = None, None
        for level in ADMIN_LEVELS:
            named = by_level.get(level)
            if not named:
                continue
            if scope is not None:
                named = {k: v for k, v in named.items() if self._under(v[0], scope, None)}
                if not named:
                    break
            scope, scope_level = named, level
        return scope, scope_level

    def _exact_building(
        self, places: list[_Hit], scope: Scope | None, level: str | None, within: Region | None
    ):
        """The building whose address the text contains (longest first), consistent with the regions
        named: an AddressMatch. An address several grids share (a compound's name, its gate number)
        narrows the region instead: (scope, level) when that is deeper than what the names said."""
        for hit in sorted(places, key=lambda h: h.end - h.start, reverse=True):
            found = [p for p in self.places.entries[hit.key] if self._under(p.grid, scope, within)]
            if not found:
                continue
            grids = {p.grid.id: p.grid for p in found}
            if len(grids) == 1:
                return AddressMatch(found[0].grid, found[0].address, "building", 100, False)
            ancestor = self._common_ancestor(list(grids.values()))
            depth = ADMIN_LEVELS.index(level) if level in ADMIN_LEVELS else -1
            if ancestor is not None and ancestor.level in (Level.STREET, Level.COMMUNITY):
                if ADMIN_LEVELS.index(ancestor.level) > depth:
                    return {ancestor.id: (ancestor, 100)}, ancestor.level
            return None
        return None

    def _fuzzy_region(self, masked: str, level: str, scope: Scope | None, within: Region | None):
        """Names of the level with a small typo (only names with a distinctive part of 3+ characters);
        every name as near as the nearest is kept, so an even choice stays ambiguous."""
        names, regions = self._names_under(level, scope, within)
        if not names or not masked.strip(SEP):
            return None
        # partial_ratio picks the candidates quickly; _typo_score then counts a wrong character as one
        # edit. Padding keeps a text shorter than a name from being scored as contained in it.
        query = masked.ljust(self.longest_name, SEP)
        near = process.extract(
            query, names, scorer=fuzz.partial_ratio, score_cutoff=FUZZY_REGION_MIN, limit=None
        )
        scored = [(self._typo_score(name, masked), regions[i]) for name, _score, i in near]
        scored = [(score, region) for score, region in scored if score >= FUZZY_REGION_MIN]
        if not scored:
            return None
        best = max(score for score, _r in scored)
        return {region.id: (region, best) for score, region in scored if score == best}

    def _fuzzy_building(self, masked: str, scope: Scope | None, within: Region | None) -> AddressMatch | None:
        """A building address with a small typo. Bigram counts pick the candidates; the numbers in the
        address must match exactly (阳光花园3栋 is not 阳光花园8栋)."""
        counts = self.bigram_counts  # first: keys another thread adds meanwhile are left out
        grams = [self.postings[g] for g in _bigrams(masked) if g in self.postings]
        if not grams:
            return None
        shared = np.bincount(np.concatenate(grams), minlength=len(counts))[: len(counts)]
        candidates = np.flatnonzero(shared * 2 >= counts)
        # Most bigrams in common first, then the largest share of the key's own.
        ranked = candidates[np.lexsort((-shared[candidates] / counts[candidates], -shared[candidates]))]
        best: tuple[float, list[_Place]] | None = None
        tried = 0
        for i in ranked[:FUZZY_BUILDING_SCAN].tolist():
            key = self.place_keys[i]
            found = [p for p in self.places.entries[key] if self._under(p.grid, scope, within)]
            if not found:
                continue
            tried += 1
            if tried > FUZZY_BUILDING_CANDIDATES:
                break
            score = self._typo_score(key, masked)
            if score < FUZZY_BUILDING_MIN:
                continue
            if best is None or score > best[0]:
                best = (score, found)
            elif score == best[0]:
                best[1].extend(found)
        # As near to buildings in two grids: which one is not known.
        if best is None or len({p.grid.id for p in best[1]}) > 1:
            return None
        score, found = best
        return AddressMatch(found[0].grid, found[0].address, "building", round(score), score < REVIEW_LINE)

    @classmethod
    def _typo_score(cls, key: str, text: str) -> float:
        """0–100: how close the key is to the part of the text it lines up with, counting a wrong character
        as one edit (partial_ratio alone would let 安家园4栋 match the end of 丽兴平家园4栋 almost fully)."""
        query = text.ljust(len(key), SEP)
        aligned = fuzz.partial_ratio_alignment(key, query)
        start, end, n = aligned.dest_start, aligned.dest_end, len(key)
        if not cls._same_numbers(key, query, start, end):
            return 0.0
        windows = {query[start:end], query[max(0, end - n) : end], query[start : start + n]}
        return max(Levenshtein.normalized_similarity(key, w) for w in windows) * 100

    @staticmethod
    def _same_numbers(key: str, text: str, start: int, end: int) -> bool:
        while start > 0 and _is_digit(text[start - 1]):
            start -= 1
        while end < len(text) and _is_digit(text[end]):
            end += 1
        return _NUMBER.findall(key) == _NUMBER.findall(text[start:end])

    def _common_ancestor(self, regions: list[Region]) -> Region | None:
        paths = [r.path.rstrip("/").split("/") for r in regions]
        common = []
        for parts in zip(*paths, strict=False):
            if len(set(parts)) > 1:
                break
            common.append(parts[0])
        return self.by_path.get("/".join(common) + "/") if common else None

    def _region_match(self, scope: Scope | None, within: Region | None) -> AddressMatch | None:
        """The region the text points at: one community, or the street all candidates share."""
        if not scope:
            return None
        regions = [r for r, _s in scope.values()]
        score = round(min(s for _r, s in scope.values()))
        region = regions[0] if len(regions) == 1 else self._common_ancestor(regions)
        if region is None or region.level not in (Level.STREET, Level.COMMUNITY):
            return None
        if within is not None and not region.path.startswith(within.path):
            return None
        kind = "community" if region.level == Level.COMMUNITY else "street"
        review = kind == "street" or len(regions) > 1 or score < REVIEW_LINE
        return AddressMatch(region, region.name, kind, score, review)

    @classmethod
    def load(cls) -> AddressIndex:
        regions = Region.objects.defer("boundary").order_by("path")
        buildings = Building.objects.values_list("id", "region_id", "address", "compound", "name")
        return cls(regions, buildings.iterator(chunk_size=10_000))


# ---------------------------------------------------------------- the per-process cache

_lock = threading.Lock()
_cached: tuple[tuple, tuple, AddressIndex] | None = None  # (region version, building version, index)
_checked_at: dt.datetime | None = None
# How often a process asks the database whether another process changed regions or buildings.
RECHECK = dt.timedelta(seconds=1)


def _region_version() -> tuple:
    stats = Region.objects.aggregate(n=Count("id"), latest=Max("updated_at"))
    return stats["n"], stats["latest"]


def _building_version() -> tuple:
    # Buildings have no update time and are not edited in place: additions and removals are what change.
    # Two queries: each is answered from the primary key index, together they are not.
    return Building.objects.count(), Building.objects.aggregate(last=Max("id"))["last"] or 0


def _caught_up(index: AddressIndex) -> bool:
    """Add the buildings created since the index was built; False when that does not account for
    every change (a removal, or a transaction that committed a lower id late)."""
    index.add_buildings(
        Building.objects.filter(id__gt=index.last_building_id)
        .order_by("id")
        .values_list("id", "region_id", "address", "compound", "name")
    )
    return Building.objects.filter(id__lte=index.last_building_id).count() == index.building_count


def address_index() -> AddressIndex:
    """The current index: rebuilt when regions changed, extended when buildings were added (any process)."""
    global _cached, _checked_at
    now = clock.now()
    if _cached is not None and _checked_at is not None and abs(now - _checked_at) < RECHECK:
        return _cached[2]
    regions, buildings = _region_version(), _building_version()
    with _lock:
        if _cached is None or _cached[0] != regions:
            _cached = (regions, buildings, AddressIndex.load())
        elif _cached[1] != buildings:
            index = _cached[2]
            _cached = (regions, buildings, index if _caught_up(index) else AddressIndex.load())
        _checked_at = now
        return _cached[2]


def invalidate() -> None:
    """Forget the index: region names feed every key, so a region change rebuilds it."""
    global _cached
    with _lock:
        _cached = None


def recheck() -> None:
    """Ask the database at the next resolve instead of within RECHECK."""
    global _checked_at
    _checked_at = None


@receiver([post_save, post_delete], sender=Region, dispatch_uid="addressing.region_changed")
def _region_changed(sender, **kwargs) -> None:
    invalidate()


@receiver(post_save, sender=Building, dispatch_uid="addressing.building_saved")
def _building_saved(sender, created: bool = False, **kwargs) -> None:
    # A new building is picked up by the next check; an edited one is invisible to the version.
    if created:
        recheck()
    else:
        invalidate()


@receiver(post_delete, sender=Building, dispatch_uid="addressing.building_deleted")
def _building_deleted(sender, **kwargs) -> None:
    recheck()


def resolve(text: str, *, within: Region | None = None) -> AddressMatch | None:
    """The region a free-text address names, or None. `within` (the caller's area) limits the candidates
    to that subtree. The region returned is a copy: callers may use it freely."""
    found = address_index().resolve(text, within=within)
    if found is None:
        return None
    return AddressMatch(copy.copy(found.region), found.matched, found.kind, found.score, found.needs_review)
