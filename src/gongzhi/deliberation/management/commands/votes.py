"""`gongzhi votes verify MATTER` and `gongzhi votes verify --vote ID`: recompute the ballot chain and
the tally of votes and compare them with what was stored and sealed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.deliberation.models import Matter, Vote
from gongzhi.deliberation.services import votes


class Command(BaseCommand):
    @property
    def help(self) -> str:
        # argparse wraps the description as text: a lazy string would not do.
        return _("表决：verify 重新计算选票哈希链和计票结果，报告第一张出问题的选票")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        verify = sub.add_parser(
            "verify", help=gettext_lazy("核验一个议题的全部表决，或用 --vote 核验一次表决")
        )
        verify.add_argument("matter", nargs="?", type=int, metavar="MATTER", help=gettext_lazy("议题编号"))
        verify.add_argument(
            "--vote", type=int, metavar="ID", help=gettext_lazy("只核验这一次表决（表决编号）")
        )

    def handle(self, *args, verb, matter, vote, **options):
        if (matter is None) == (vote is None):
            raise CommandError(_("请给出议题编号，或用 --vote 给出表决编号（二者选一）"))
        if vote is not None:
            found = Vote.objects.filter(pk=vote).first()
            if found is None:
                raise CommandError(_("表决 %(id)s 不存在") % {"id": vote})
            to_check = [found]
        else:
            subject = Matter.objects.filter(pk=matter).first()
            if subject is None:
                raise CommandError(_("议题 %(id)s 不存在") % {"id": matter})
            to_check = list(subject.votes.order_by("pk"))
            if not to_check:
                self.stdout.write(_("议题“%(title)s”没有表决，无需核验。") % {"title": subject.title})
                return
        failed = sum(not self.verify(v) for v in to_check)
        if failed:
            raise CommandError(
                _("%(failed)s 次表决未通过核验（共 %(total)s 次）")
                % {"failed": failed, "total": len(to_check)}
            )
        self.stdout.write(self.style.SUCCESS(_("%(total)s 次表决全部核验通过。") % {"total": len(to_check)}))

    def verify(self, vote: Vote) -> bool:
        check = votes.verify(vote)
        name = _("表决“%(title)s”（编号 %(id)s）") % {"title": vote.title, "id": vote.pk}
        if check.ok:
            self.stdout.write(_("%(name)s：核对选票 %(n)s 张，完好") % {"name": name, "n": check.ballots})
            return True
        problem = check.problem
        if check.seq is not None:
            problem += _("，第一张出问题的选票序号 %(seq)s") % {"seq": check.seq}
        self.stderr.write(
            _("%(name)s：核对选票 %(n)s 张，发现问题：%(problem)s")
            % {"name": name, "n": check.ballots, "problem": problem}
        )
        return False
