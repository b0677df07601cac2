"""Printable documents of a vote: the paper ballot (表决票) and the result notice (表决结果公告).

Both are official Chinese documents, rendered in Chinese whatever the reader's language, so the
labels match the Chinese tally stored with the result.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from xml.sax.saxutils import escape

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, TableStyle

from gongzhi.core import clock, formats, pdf
from gongzhi.core.errors import DomainError
from gongzhi.deliberation.models import QuestionKind, Result, Vote, VoteRule, VoteStatus

# What makes the vote valid and what carries it, in one sentence per rule.
RULE_EXPLANATIONS = {
    VoteRule.OWNERS: gettext_lazy(
        "依据《民法典》第二百七十八条，须专有部分面积占比三分之二以上且人数占比三分之二以上的业主参与表决，"
        "并经参与表决专有部分面积过半数且参与表决人数过半数的业主同意。"
    ),
    VoteRule.OWNERS_SPECIAL: gettext_lazy(
        "依据《民法典》第二百七十八条，筹集建筑物及其附属设施的维修资金、改建重建建筑物及其附属设施、"
        "改变共有部分的用途或者利用共有部分从事经营活动，须专有部分面积占比三分之二以上且人数占比"
        "三分之二以上的业主参与表决，并经参与表决专有部分面积四分之三以上且参与表决人数四分之三以上的业主同意。"
    ),
    VoteRule.RESIDENTS: gettext_lazy(
        "依据《城市居民委员会组织法》第十条，居民会议须有过半数的应到人员到会方为有效，"
        "决定须经到会人员过半数同意。"
    ),
    VoteRule.VILLAGERS: gettext_lazy(
        "依据《村民委员会组织法》第二十二条，村民会议须有本村十八周岁以上村民过半数或者本村三分之二以上的户的代表参加，"
        "所作决定须经到会人员过半数同意。"
    ),
    VoteRule.REPRESENTATIVES: gettext_lazy(
        "依据《村民委员会组织法》第二十六条，村民代表会议须有三分之二以上的组成人员参加，"
        "所作决定须经到会人员过半数同意。"
    ),
    VoteRule.PARTY_MEMBERS: gettext_lazy(
        "党员大会须有三分之二以上的党员到会方为有效，审议意见须经到会党员过半数同意。"
    ),
    VoteRule.ELECTION: gettext_lazy(
        "依据《村民委员会组织法》第十五条，登记参加选举的村民过半数投票选举有效，"
        "候选人获得参加投票的村民过半数的选票始得当选。"
    ),
}
BOX = 5 * mm
WIDTH = 170 * mm  # A4 less the 20 mm margins of `pdf.build`


class TickBox(Flowable):
    """An empty square to tick, drawn as lines so it prints whatever glyphs the font lacks."""

    def wrap(self, available_width, available_height):
        return BOX, BOX

    def draw(self):
        self.canv.rect(0, 0, BOX, BOX)


def ballot_paper(vote: Vote) -> bytes:
    """The paper ballot of `vote` (any status: it is printed before the vote opens)."""
    with translation.override("zh-hans"):
        st = pdf.styles()
        story = [
            _para(_("表决票"), st["title"]),
            _para(f"{vote.matter.title}——{vote.title}", st["heading"]),
            _para(_("社区（村）：%(place)s") % {"place": _place(vote)}, st["body"]),
            _para(_("表决规则：%(rule)s") % {"rule": RULE_EXPLANATIONS[vote.rule]}, st["body"]),
            _para(_("投票截止时间：%(when)s") % {"when": _when(vote.closes_at)}, st["body"]),
            _para(_("请在所选选项右侧的方框内打“✓”；超出可选项数或无法辨认的，该项选票无效。"), st["body"]),
        ]
        if vote.secret:
            story.append(
                _para(_("本次表决为无记名投票：请勿在选票上填写姓名、房号或作任何标记。"), st["body"])
            )
        for question in vote.questions.prefetch_related("options"):
            story.append(_para(_question_heading(question), st["heading"]))
            story.append(_options_table(question))
        story.append(Spacer(1, 6 * mm))
        if not vote.secret:
            story.append(_voter_lines(vote))
            story.append(Spacer(1, 3 * mm))
        story.append(_proxy_lines(vote))
        story.append(
            _para(
                _("表决编号：%(id)s。选票由两名工作人员分别录入、核对一致后计入。") % {"id": vote.pk},
                st["small"],
            )
        )
        return pdf.build(story, title=_("表决票：%(title)s") % {"title": vote.title})


def result_notice(vote: Vote) -> bytes:
    """The public notice of a closed vote's result, with the hashes anyone can check it against."""
    if vote.status != VoteStatus.CLOSED:
        raise DomainError("vote.not_closed", _("表决尚未结束，没有可公告的结果"))
    result = Result.objects.get(vote=vote)
    with translation.override("zh-hans"):
        st = pdf.styles()
        story = [
            _para(_("表决结果公告"), st["title"]),
            _para(f"{vote.matter.title}——{vote.title}", st["heading"]),
            _para(_("社区（村）：%(place)s") % {"place": _place(vote)}, st["body"]),
            _para(_("表决规则：%(rule)s") % {"rule": vote.get_rule_display()}, st["body"]),
            _para(
                _("投票时间：%(start)s 至 %(end)s；%(kind)s")
                % {
                    "start": _when(vote.opened_at),
                    "end": _when(vote.closed_at),
                    "kind": _("无记名投票") if vote.secret else _("记名投票"),
                },
                st["body"],
            ),
            _para(_("表决权人与参与情况"), st["heading"]),
            _turnout_table(vote, result),
        ]
        for number, outcome in enumerate(result.questions, start=1):
            story.append(
                _para(_("第%(n)s项：%(text)s") % {"n": number, "text": outcome["text"]}, st["heading"])
            )
            story.append(_tally_table(vote, outcome))
            thresholds = _thresholds_of(outcome)
            if thresholds:
                story.append(Spacer(1, 2 * mm))
                story.append(_thresholds_table(thresholds))
            story.append(Spacer(1, 2 * mm))
            story.append(_para(_decision(outcome), st["body"]))
        story += _verification(vote, result, st)
        signature = ParagraphStyle("signature", parent=st["body"], alignment=TA_RIGHT)
        story += [
            Spacer(1, 8 * mm),
            _para(vote.matter.region.name, signature),
            _para(_date(clock.today()), signature),
        ]
        return pdf.build(story, title=_("表决结果公告：%(title)s") % {"title": vote.title})


# ---------------------------------------------------------------- ballot parts


def _question_heading(question) -> str:
    if question.kind in (QuestionKind.MULTIPLE, QuestionKind.ELECTION):
        how = _("最多选 %(k)s 项") % {"k": question.max_choices}
    else:
        how = _("单选")
    return _("第%(n)s项：%(text)s（%(how)s）") % {"n": question.order, "text": question.text, "how": how}


def _options_table(question):
    options = list(question.options.all())
    if question.kind == QuestionKind.YES_NO:
        # 同意 □  不同意 □  弃权 □ on one line, as on the usual printed ballots.
        row = [cell for option in options for cell in (option.label, TickBox())]
        widths = [WIDTH / len(options) - 12 * mm, 12 * mm] * len(options)
        table = pdf.table([row], col_widths=widths, header=False)
    else:
        header = [_("候选人") if question.kind == QuestionKind.ELECTION else _("选项"), _("选择")]
        rows = [header] + [[option.label, TickBox()] for option in options]
        table = pdf.table(rows, col_widths=[WIDTH - 20 * mm, 20 * mm])
    table.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return table


def _voter_lines(vote: Vote):
    blank = ""
    name = _("业主姓名") if vote.by_area else _("姓名")
    rows = [
        [name, blank, _("房号"), blank],
        [_("签名"), blank, _("日期"), blank],
    ]
    return _form_table(rows)


def _proxy_lines(vote: Vote):
    if vote.secret:
        # Writing the proxy's name on a secret ballot would tie it to the voter: it goes in apart.
        note = _("受托人凭授权委托书代为投票；授权委托书另行交回，不随本票投递")
        return _form_table([[_("委托投票"), note]], widths=[25 * mm, WIDTH - 25 * mm])
    rows = [
        [_("委托投票"), _("受托人（签名）"), "", _("授权委托书")],
        ["", _("须随本票一并交回，未附授权委托书的委托投票无效"), "", ""],
    ]
    table = _form_table(rows)
    table.setStyle(TableStyle([("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 1), (3, 1))]))
    return table


def _form_table(rows, widths=None):
    widths = widths or [25 * mm, 60 * mm, 25 * mm, WIDTH - 110 * mm]
    table = pdf.table(rows, col_widths=widths, header=False)
    table.setStyle(
        TableStyle([("TOPPADDING", (0, 0), (-1, -1), 3 * mm), ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm)])
    )
    return table


# ---------------------------------------------------------------- result parts


def _turnout_table(vote: Vote, result: Result):
    if vote.by_area:
        rows = [
            [_("项目"), _("人数"), _("专有部分面积")],
            [_("有表决权"), result.electorate, formats.area(result.electorate_area)],
            [_("参与表决"), result.participants, formats.area(result.participant_area)],
            [
                _("参与比例"),
                _share(result.participants, result.electorate),
                _share(result.participant_area, result.electorate_area),
            ],
        ]
        return pdf.table(rows, col_widths=[40 * mm, 60 * mm, WIDTH - 100 * mm])
    rows = [
        [_("项目"), _("人数")],
        [_("有表决权"), result.electorate],
        [_("参与表决"), result.participants],
        [_("参与比例"), _share(result.participants, result.electorate)],
    ]
    return pdf.table(rows, col_widths=[40 * mm, WIDTH - 40 * mm])


def _tally_table(vote: Vote, outcome: dict):
    label = _("候选人") if outcome["kind"] == QuestionKind.ELECTION else _("选项")
    if vote.by_area:
        rows = [[label, _("票数"), _("专有部分面积")]]
        rows += [[o["label"], o["count"], formats.area(o["area"])] for o in outcome["options"]]
        rows.append([_("本项投票合计"), outcome["ballots"], formats.area(outcome["area"])])
        return pdf.table(rows, col_widths=[WIDTH - 90 * mm, 40 * mm, 50 * mm])
    rows = [[label, _("票数")]]
    rows += [[o["label"], o["count"]] for o in outcome["options"]]
    rows.append([_("本项投票合计"), outcome["ballots"]])
    return pdf.table(rows, col_widths=[WIDTH - 40 * mm, 40 * mm])


def _thresholds_of(outcome: dict) -> list[tuple[str, dict]]:
    """(option label or "", threshold) pairs: one set for yes/no and elections, one per option else."""
    if outcome.get("option_thresholds"):
        labels = {str(o["id"]): o["label"] for o in outcome["options"]}
        return [
            (labels.get(option_id, ""), threshold)
            for option_id, thresholds in outcome["option_thresholds"].items()
            for threshold in thresholds
        ]
    return [("", threshold) for threshold in outcome.get("thresholds", [])]


def _thresholds_table(thresholds: list[tuple[str, dict]]):
    rows = [[_("条件"), _("实际比例"), _("要求"), _("是否达到")]]
    for option, t in thresholds:
        label = f"{option}：{t['label']}" if option else t["label"]
        rows.append(
            [
                label,
                _("%(fraction)s（%(part)s / %(whole)s）")
                % {"fraction": t["fraction"] or "—", "part": t["part"], "whole": t["whole"]},
                t["requirement"],
                _("达到") if t["met"] else _("未达到"),
            ]
        )
    return pdf.table(rows, col_widths=[WIDTH - 110 * mm, 50 * mm, 30 * mm, 30 * mm])


def _decision(outcome: dict) -> str:
    if not outcome["valid"]:
        verdict = _("无效（参与人数或面积未达到法定要求）")
    elif outcome["passed"]:
        verdict = _("通过")
    else:
        verdict = _("未通过")
    text = _("表决结果：%(verdict)s") % {"verdict": verdict}
    if outcome["kind"] == QuestionKind.ELECTION and outcome["valid"]:
        names = "、".join(outcome.get("elected") or []) or _("无人当选")
        text += _("；当选：%(names)s") % {"names": names}
    elif outcome["kind"] in (QuestionKind.SINGLE, QuestionKind.MULTIPLE) and outcome["passed"]:
        text += _("；通过的选项：%(labels)s") % {"labels": "、".join(outcome["adopted"])}
    return text


def _verification(vote: Vote, result: Result, st) -> list:
    digest = ParagraphStyle("digest", parent=st["cell"], fontName="Courier", fontSize=8)
    rows = [
        [_("选票数（含改票）"), vote.ballot_count],
        [_("选票链末端哈希"), _para(result.chain_head, digest)],
        [_("结果哈希"), _para(result.hash, digest)],
        [_("计票时间"), _when(result.computed_at)],
    ]
    return [
        _para(_("核验信息"), st["heading"]),
        pdf.table(rows, col_widths=[40 * mm, WIDTH - 40 * mm], header=False),
        Spacer(1, 2 * mm),
        _para(
            _(
                "每张选票与前一张选票串成哈希链，结果哈希覆盖计票结果与链末端哈希：改动、删除或插入任何一张选票，"
                "或改动计票结果，重新计算时都会与以上哈希不符。投票人可凭选票回执码核对本人选票已按所投计入。"
            ),
            st["small"],
        ),
    ]


# ---------------------------------------------------------------- formatting


def _para(text, style) -> Paragraph:
    # Paragraph reads markup: titles and names must come out literally.
    return Paragraph(escape(str(text)), style)


def _place(vote: Vote) -> str:
    compound = vote.matter.compound
    return f"{vote.matter.region.name} {compound}" if compound else vote.matter.region.name


def _date(day: dt.date) -> str:
    return _("%(y)s年%(m)s月%(d)s日") % {"y": day.year, "m": day.month, "d": day.day}


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return f"{_date(local.date())} {local:%H:%M}"


def _share(part, whole) -> str:
    """The exact share as a reduced fraction ("18/25"), "—" when there is nothing to share."""
    part, whole = Fraction(Decimal(part)), Fraction(Decimal(whole))
    if whole == 0:
        return "—"
    share = part / whole
    return f"{share.numerator}/{share.denominator}"
