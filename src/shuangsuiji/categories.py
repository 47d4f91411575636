"""Result categories (检查结果分类) as data, and the problems a result's rules find.

The national publicity system (国家企业信用信息公示系统) shows one or more result
categories per inspected item. The nine standard ones have stable codes ``"01"`` … ``"09"``;
an agency adds its own (per-department violation codes, 注销/吊销/迁出 …) with
:meth:`ResultCategories.with_category`, so the set is data, not an enum. Each category has a
**kind** that drives the consistency rules:

- ``no_problem`` (01 未发现问题): stands alone — it cannot be combined with any other category
  (a problem contradicts it; 07 "activity not found" or 09 "closed" mean the item could not be
  checked, so "no problem found" would misstate the result), and it takes no follow-up action;
- ``problem`` (02, 03, 04, 05, 06, 08): a follow-up action (后续处置) is required — what the
  agency did or will do about it (责令改正, 列入经营异常名录, 立案调查 …);
- ``finding`` (07 未发现开展本次抽查涉及的经营活动, 09 已关闭停业或正在组织清算): a state of the
  entity that is neither; a follow-up action is optional.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from shuangsuiji.errors import InvalidInputError, UnknownKeyError

__all__ = [
    "STANDARD_CATEGORIES",
    "CategoryError",
    "CategoryKind",
    "ResultCategories",
    "ResultCategory",
    "ResultProblem",
]

_CATEGORY_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]{0,31}$")


class CategoryError(InvalidInputError):
    """A result category that cannot be added, or a category set that is malformed."""


@attrs.frozen
class ResultProblem:
    """One broken rule of a result: the ``field`` at fault and the ``reason``."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class CategoryKind(enum.StrEnum):
    """What a category says about the entity, which decides the consistency rules."""

    NO_PROBLEM = "no_problem"
    """No problem found: stands alone, takes no follow-up action."""
    PROBLEM = "problem"
    """A problem: a follow-up action (后续处置) is required."""
    FINDING = "finding"
    """A state of the entity (closed, activity not found): follow-up optional."""


@attrs.frozen
class ResultCategory:
    """One result category: a stable ``code``, its Chinese and English labels and its kind.

    >>> ResultCategories.standard()["04"].label_zh
    '通过登记的住所（经营场所）无法联系'
    """

    code: str
    label_zh: str
    label_en: str
    kind: CategoryKind = attrs.field(converter=CategoryKind)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CATEGORY_CODE.match(self.code):
            raise CategoryError(
                f"category code {self.code!r} is not valid: use 1-32 ASCII letters, digits, '.', "
                "'_' or '-', starting with a letter or digit (e.g. 'SCJG-10')"
            )
        for name in ("label_zh", "label_en"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or value != value.strip():
                raise CategoryError(
                    f"category {self.code}: {name} must be a non-empty text without surrounding "
                    f"spaces, got {value!r}"
                )

    def to_dict(self) -> dict[str, str]:
        """``{"code", "label_zh", "label_en", "kind"}``."""
        return {
            "code": self.code,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "kind": self.kind.value,
        }


_P, _F = CategoryKind.PROBLEM, CategoryKind.FINDING
STANDARD_CATEGORIES: Final = (
    ResultCategory("01", "未发现问题", "No problem found", CategoryKind.NO_PROBLEM),
    ResultCategory(
        "02", "未按规定公示应当公示的信息", "Did not publish information it must publish", _P
    ),
    ResultCategory(
        "03",
        "公示信息隐瞒真实情况、弄虚作假",
        "Published information concealed facts or was falsified",
        _P,
    ),
    ResultCategory(
        "04",
        "通过登记的住所（经营场所）无法联系",
        "Cannot be reached at the registered address (premises)",
        _P,
    ),
    ResultCategory("05", "发现问题已责令改正", "Problem found, correction ordered", _P),
    ResultCategory("06", "不配合检查情节严重", "Serious non-cooperation with the inspection", _P),
    ResultCategory(
        "07",
        "未发现开展本次抽查涉及的经营活动",
        "The business activity under inspection was not found",
        _F,
    ),
    ResultCategory("08", "发现问题待后续处理", "Problem found, follow-up pending", _P),
    ResultCategory(
        "09", "已关闭停业或正在组织清算", "Closed, out of business or in liquidation", _F
    ),
)
"""The nine standard categories of the publicity system, codes 01-09."""


@attrs.frozen(repr=False)
class ResultCategories:
    """The set of result categories in use: the nine standard ones plus the agency's own.

    Immutable: :meth:`with_category` returns a new set. Codes and Chinese labels are unique,
    and the standard categories are always present, unchanged. Look a category up by code
    (``categories["05"]``) or resolve a code or Chinese label with :meth:`resolve`.

    >>> cats = ResultCategories.standard().with_category(
    ...     "SCJG-10", "已办理注销登记", "Deregistered", kind="finding")
    >>> len(cats), cats.resolve("已办理注销登记"), cats.label("SCJG-10")
    (10, 'SCJG-10', '已办理注销登记')
    >>> cats.with_category("05", "另一个", "another")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.categories.CategoryError: category code 05 is already used by 发现问题已责令改正;...
    """

    categories: tuple[ResultCategory, ...]
    _by_code: dict[str, ResultCategory] = attrs.field(init=False, eq=False)
    _by_label: dict[str, str] = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_code: dict[str, ResultCategory] = {}
        by_label: dict[str, str] = {}
        for category in self.categories:
            if not isinstance(category, ResultCategory):
                raise CategoryError(f"not a ResultCategory: {category!r}")
            if category.code in by_code:
                raise CategoryError(
                    f"category code {category.code} is already used by "
                    f"{by_code[category.code].label_zh}; give the new category a code of its own "
                    "(agency codes: use a prefix such as 'SCJG-10')"
                )
            if category.label_zh in by_label:
                raise CategoryError(
                    f"category label {category.label_zh} is already the label of code "
                    f"{by_label[category.label_zh]}; labels must be unique"
                )
            by_code[category.code] = category
            by_label[category.label_zh] = category.code
        for standard in STANDARD_CATEGORIES:
            if by_code.get(standard.code) != standard:
                raise CategoryError(
                    f"the standard category {standard.code} {standard.label_zh} is missing or "
                    "changed; the standard categories cannot be removed or redefined: start from "
                    "ResultCategories.standard() and add agency categories with new codes"
                )
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_by_label", by_label)

    def __repr__(self) -> str:
        extra = [c.code for c in self.categories if c not in STANDARD_CATEGORIES]
        return f"ResultCategories(standard 01-09{', agency ' + ', '.join(extra) if extra else ''})"

    @classmethod
    def standard(cls) -> ResultCategories:
        """The nine standard categories of the publicity system."""
        return _STANDARD

    def with_category(
        self,
        code: str,
        label_zh: str,
        label_en: str,
        *,
        kind: CategoryKind | str = CategoryKind.PROBLEM,
    ) -> ResultCategories:
        """A new set with one agency category added (``kind`` defaults to ``problem``)."""
        return ResultCategories((*self.categories, ResultCategory(code, label_zh, label_en, kind)))

    def __getitem__(self, code: str) -> ResultCategory:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownKeyError(f"unknown result category {code!r}; {self._known()}") from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[ResultCategory]:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code, standard ones first, then the agency's in the order they were added."""
        return tuple(c.code for c in self.categories)

    def label(self, code: str, language: str = "zh") -> str:
        """The Chinese (``"zh"``) or English (``"en"``) label of ``code``."""
        category = self[code]
        return category.label_en if language == "en" else category.label_zh

    def resolve(self, token: str) -> str:
        """The code of ``token``, which is a code (``"05"``) or a Chinese label; else KeyError."""
        text = token.strip()
        if text in self._by_code:
            return text
        if text in self._by_label:
            return self._by_label[text]
        raise UnknownKeyError(f"unknown result category {text!r}; {self._known()}")

    def _known(self) -> str:
        return "known: " + ", ".join(f"{c.code} {c.label_zh}" for c in self.categories)

    def problems(self, codes: Sequence[str], follow_up: str) -> list[ResultProblem]:
        """What is wrong with ``codes`` together with ``follow_up`` (empty list: nothing).

        The rules are those of the module docstring: at least one category, each known and
        listed once; a ``no_problem`` category alone and without a follow-up action; any
        ``problem`` category needs a follow-up action.

        >>> [p.field for p in ResultCategories.standard().problems(["05"], "")]
        ['follow_up']
        """
        if not codes:
            return [
                ResultProblem(
                    "categories", "give at least one result category (e.g. 01 未发现问题)"
                )
            ]
        out: list[ResultProblem] = []
        unknown = [c for c in codes if c not in self._by_code]
        if unknown:
            out.append(
                ResultProblem(
                    "categories",
                    f"unknown result category {', '.join(map(repr, unknown))}; {self._known()}",
                )
            )
        repeated = sorted({c for c in codes if list(codes).count(c) > 1})
        if repeated:
            out.append(
                ResultProblem("categories", f"category {', '.join(repeated)} is listed twice")
            )
        known = [self._by_code[c] for c in codes if c in self._by_code]
        alone = [c for c in known if c.kind is CategoryKind.NO_PROBLEM]
        if alone and len(set(codes)) > 1:
            out.append(
                ResultProblem(
                    "categories",
                    f"{alone[0].code} {alone[0].label_zh} cannot be combined with another "
                    "category; record either that no problem was found or what was found",
                )
            )
        if alone and follow_up and len(set(codes)) == 1:
            out.append(
                ResultProblem(
                    "follow_up",
                    f"{follow_up!r} given with {alone[0].code} {alone[0].label_zh}; leave the "
                    "follow-up action empty when no problem was found",
                )
            )
        problem = [c for c in known if c.kind is CategoryKind.PROBLEM]
        if problem and not follow_up:
            out.append(
                ResultProblem(
                    "follow_up",
                    f"category {problem[0].code} {problem[0].label_zh} is a problem: give the "
                    "follow-up action (后续处置), e.g. 责令限期改正 or 列入经营异常名录",
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"categories": [...]}``, every category as :meth:`ResultCategory.to_dict`."""
        return {"categories": [c.to_dict() for c in self.categories]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultCategories:
        """Inverse of :meth:`to_dict`."""
        try:
            rows = data["categories"]
            return cls(
                tuple(
                    ResultCategory(r["code"], r["label_zh"], r["label_en"], r["kind"]) for r in rows
                )
            )
        except (KeyError, TypeError) as exc:
            raise CategoryError(
                f"not a category set: expected {{'categories': [{{'code', 'label_zh', "
                f"'label_en', 'kind'}}, ...]}} ({exc!r})"
            ) from None


_STANDARD = ResultCategories(STANDARD_CATEGORIES)
