"""智能分拨's classifier: training, calibrated suggestions, the model file, current(), training data from
closed cases and from CSV files, `gongzhi cases train-classifier` and the nightly retraining."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import os
from pathlib import Path

import joblib
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gongzhi.cases import classifier, services, tasks
from gongzhi.cases.models import Source
from gongzhi.core import clock
from gongzhi.core.models import AuditEntry
from tests.cases.conftest import A1_POINT

MONDAY = "2026-11-23T10:00:00+08:00"
SHARED_DATA = Path(
    os.environ.get("GONGZHI_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data"
)
TIPDM = SHARED_DATA / "tipdm2020c_citizen_messages"

PLACES = [
    "小区门口",
    "菜市场旁边",
    "学校后门",
    "公交站台",
    "三单元楼下",
    "人行道上",
    "河边步道",
    "停车场出口",
]
PROBLEMS = {
    "SJ0101": [
        ("垃圾没人清运", "垃圾堆了好几天没人清运，臭味很大"),
        ("生活垃圾乱堆", "生活垃圾散落一地，苍蝇很多"),
        ("垃圾桶溢满", "垃圾桶满了溢出来，环卫工人一直没来"),
        ("乱倒垃圾", "有人半夜乱倒垃圾，越堆越多"),
    ],
    "BJ0201": [
        ("路灯不亮", "路灯坏了不亮，晚上一片漆黑，出行不安全"),
        ("路灯忽明忽暗", "路灯一闪一闪的，晚上走路看不清"),
        ("路灯杆歪了", "路灯杆被车撞歪了，灯也不亮了"),
        ("多盏路灯损坏", "好几盏路灯都坏了，报修很久没人修"),
    ],
    "SJ0801": [
        ("邻居纠纷", "和邻居因为漏水发生纠纷，多次协商不成，请社区调解"),
        ("邻里吵架", "邻里因为占用楼道吵起来了，希望社区出面调解"),
        ("邻居噪音矛盾", "楼上邻居每天半夜噪音扰民，沟通无果发生争执"),
        ("邻居赔偿纠纷", "邻居装修损坏了我家墙面，协商赔偿不成"),
    ],
}
# Phrasings the model has not seen, one per category.
UNSEEN = {
    "SJ0101": classifier.text_of("路口垃圾成堆", "垃圾一直没人清运，天热气味难闻"),
    "BJ0201": classifier.text_of("晚上路灯全黑", "这条路的路灯坏了，一到晚上漆黑一片"),
    "SJ0801": classifier.text_of("和邻居闹矛盾", "邻居家漏水到我家，协商不成，请调解纠纷"),
}


def examples() -> tuple[list[str], list[str]]:
    """32 messages per category: every problem in every place."""
    texts, labels = [], []
    for code, problems in PROBLEMS.items():
        for place in PLACES:
            for title, description in problems:
                texts.append(classifier.text_of(f"{place}{title}", f"{place}{description}"))
                labels.append(code)
    return texts, labels


@pytest.fixture(scope="module")
def model():
    with clock.frozen(MONDAY):
        return classifier.train(*examples())


@pytest.fixture
def now():
    with clock.frozen(MONDAY) as travel:
        yield travel


@pytest.fixture
def model_path(settings, tmp_path):
    settings.GONGZHI_CLASSIFIER_MODEL = tmp_path / "models" / "case-classifier.joblib"
    return settings.GONGZHI_CLASSIFIER_MODEL


# ---------------------------------------------------------------- input text and the model


def test_text_of_normalises_full_width_characters_and_whitespace():
    assert (
        classifier.text_of("\u3000路灯\t不亮 ", "晚上\n\n一片漆黑\u3000\u3000ＡＢ１２")
        == "路灯 不亮\n晚上 一片漆黑 AB12"
    )
    assert classifier.text_of(None, " 只有描述 ") == "\n只有描述"


def test_the_model_suggests_the_right_category_with_calibrated_probabilities(model):
    assert model.labels == ("BJ0201", "SJ0101", "SJ0801") and model.samples == 96
    assert model.trained_at == dt.datetime.fromisoformat(MONDAY)
    assert len(model.version) <= 40 and "-96-" in model.version
    for code, text in UNSEEN.items():
        top = model.predict_top(text, k=3)
        assert [c for c, _p in top][0] == code
        probabilities = [p for _c, p in top]
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0 <= p <= 1 for p in probabilities) and sum(probabilities) == pytest.approx(1)
        assert probabilities[0] > 0.5
    # Fewer than all labels: the best ones, summing to less than one.
    two = model.predict_top(UNSEEN["BJ0201"], k=2)
    assert len(two) == 2 and sum(p for _c, p in two) < 1
    assert len(model.predict_top(UNSEEN["BJ0201"], k=10)) == 3


def test_a_mixed_message_is_less_certain_than_a_clear_one(model):
    clear = model.predict_top(UNSEEN["BJ0201"], k=1)[0][1]
    mixed = model.predict_top(classifier.text_of("路灯不亮还有垃圾", "路灯坏了，旁边垃圾也没人清运"), k=2)
    assert {c for c, _p in mixed} == {"BJ0201", "SJ0101"} and mixed[0][1] < clear


def test_batch_prediction_matches_one_at_a_time(model):
    texts = list(UNSEEN.values())
    assert model.predict_top_many(texts, k=2) == [model.predict_top(t, k=2) for t in texts]
    assert model.predict_top_many([], k=3) == []


def test_training_is_deterministic_for_a_seed(model):
    with clock.frozen(MONDAY):
        again = classifier.train(*examples(), seed=0)
    assert again.version == model.version
    assert again.predict_top(UNSEEN["SJ0801"]) == model.predict_top(UNSEEN["SJ0801"])


def test_training_needs_two_classes_with_two_examples_each():
    with pytest.raises(classifier.TrainingError, match="至少需要 2 个分类"):
        classifier.train(["垃圾没人清运"] * 5, ["SJ0101"] * 5)
    with pytest.raises(classifier.TrainingError, match="BJ0201"):
        classifier.train(["垃圾没人清运"] * 5 + ["路灯不亮"], ["SJ0101"] * 5 + ["BJ0201"])


# ---------------------------------------------------------------- the model file


def test_save_and_load_round_trip_into_a_new_folder(model, tmp_path):
    path = tmp_path / "a" / "b" / "model.joblib"
    classifier.save(model, path)
    assert os.listdir(path.parent) == ["model.joblib"]  # no temporary file left behind
    loaded = classifier.load(path)
    assert (loaded.version, loaded.labels, loaded.samples) == (model.version, model.labels, model.samples)
    texts = list(UNSEEN.values())
    assert loaded.predict_top_many(texts) == model.predict_top_many(texts)


def test_load_ignores_missing_corrupt_and_foreign_files(model, tmp_path, caplog):
    assert classifier.load(tmp_path / "absent.joblib") is None
    corrupt = tmp_path / "corrupt.joblib"
    corrupt.write_bytes(b"not a pickle at all")
    foreign = tmp_path / "foreign.joblib"
    joblib.dump({"weights": [1, 2, 3]}, foreign)
    old_format = tmp_path / "old.joblib"
    classifier.save(dataclasses.replace(model, format=classifier.FORMAT - 1), old_format)
    other_sklearn = tmp_path / "other.joblib"
    classifier.save(dataclasses.replace(model, sklearn_version="0.1"), other_sklearn)
    with caplog.at_level(logging.WARNING, logger="gongzhi.cases.classifier"):
        for path in (corrupt, foreign, old_format, other_sklearn):
            assert classifier.load(path) is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 4


def test_current_follows_the_file_and_survives_a_corrupt_one(model, model_path, now):
    assert classifier.current() is None
    classifier.save(model, model_path)
    assert classifier.current() is None  # the file is looked at no more than every few seconds
    now.advance(seconds=6)
    assert classifier.current().version == model.version
    assert classifier.current() is classifier.current()  # cached, not reloaded
    model_path.write_bytes(b"\x80garbage")
    now.advance(seconds=6)
    assert classifier.current() is None
    newer = dataclasses.replace(model, version="20261124T020000-96-abcdef12")
    classifier.save(newer, model_path)
    now.advance(seconds=6)
    assert classifier.current().version == "20261124T020000-96-abcdef12"
    model_path.unlink()
    now.advance(seconds=6)
    assert classifier.current() is None


def test_current_reads_a_new_setting_at_once(model, settings, tmp_path, now):
    settings.GONGZHI_CLASSIFIER_MODEL = tmp_path / "none.joblib"
    assert classifier.current() is None
    classifier.save(model, tmp_path / "other.joblib")
    settings.GONGZHI_CLASSIFIER_MODEL = tmp_path / "other.joblib"
    assert classifier.current().version == model.version


# ---------------------------------------------------------------- training data from closed cases


def report(world, title, description, category):
    return services.submit_case(
        world.resident,
        source=Source.RESIDENT,
        title=title,
        description=description,
        category=world.category(category),
        lon=A1_POINT[0],
        lat=A1_POINT[1],
    )


def close_garbage(world, case, *, category=None):
    """Through the loop of a category the grid worker verifies (SJ01 → the department)."""
    case = services.accept_case(world.dispatcher, case, category=category)
    case = services.dispatch_case(world.dispatcher, case, unit=world.department)
    case = services.sign_case(world.officer, case)
    case = services.reply_case(world.officer, case, note="已清运")
    return services.verify_case(world.grid_worker, case, passed=True)


def close_dispute(world, case):
    """Through the loop of a category the dispatcher closes (SJ08 → the community)."""
    case = services.accept_case(world.dispatcher, case)
    case = services.dispatch_case(world.dispatcher, case, unit=world.community_unit)
    case = services.sign_case(world.community, case)
    case = services.reply_case(world.community, case, note="已调解")
    return services.close_case(world.community, case, note="调解成功")


def closed_cases(world, n=5):
    """n closed garbage cases and n closed disputes."""
    for place in PLACES[:n]:
        title, description = PROBLEMS["SJ0101"][0]
        close_garbage(world, report(world, place + title, place + description, "SJ0101"))
        title, description = PROBLEMS["SJ0801"][0]
        close_dispute(world, report(world, place + title, place + description, "SJ0801"))


def test_training_set_from_cases_uses_the_final_category_of_closed_cases_only(world, now):
    recategorised = report(world, "门口垃圾渣土", "门口堆了很多渣土", "SJ0101")
    close_garbage(world, recategorised, category=world.category("SJ0102"))
    close_dispute(world, report(world, "邻居纠纷", "漏水纠纷请调解", "SJ0801"))
    report(world, "还没办完", "垃圾没人清运", "SJ0101")  # open
    services.reject_case(world.dispatcher, report(world, "不受理", "不属于本平台", "SJ0101"), reason="重复")
    data = classifier.training_set_from_cases(min_per_class=1)
    assert sorted(zip(data.labels, data.texts, strict=True)) == [
        ("SJ0102", classifier.text_of("门口垃圾渣土", "门口堆了很多渣土")),
        ("SJ0801", classifier.text_of("邻居纠纷", "漏水纠纷请调解")),
    ]
    texts, labels = data  # unpacks as (texts, labels)
    assert labels == data.labels
    # Since a moment after both closed: nothing.
    now.advance(hours=1)
    assert classifier.training_set_from_cases(clock.now(), min_per_class=1).texts == []


def test_classes_with_too_few_cases_are_left_out_and_named(world, now):
    closed_cases(world, n=5)
    close_garbage(world, report(world, "垃圾渣土", "渣土堆积", "SJ0101"), category=world.category("SJ0102"))
    data = classifier.training_set_from_cases()
    assert data.counts() == {"SJ0101": 5, "SJ0801": 5}
    assert data.dropped == {"SJ0102": 1}


# ---------------------------------------------------------------- training data from CSV files


def write_csv(path: Path, header: str, rows: list[str], *, encoding="utf-8") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def tipdm_rows(labels_per_code: dict[str, str]) -> list[str]:
    """Rows of the TipDM layout for the examples, labelled with the external names."""
    texts, codes = examples()
    rows = []
    for i, (text, code) in enumerate(zip(texts, codes, strict=True)):
        title, _sep, description = text.partition("\n")
        rows.append(f'{i},A00{i},{title},"{description}",{labels_per_code[code]}')
    return rows


EXTERNAL = {"SJ0101": "环境卫生", "BJ0201": "市政设施", "SJ0801": "邻里关系"}


@pytest.fixture
def tipdm_csv(tmp_path):
    header = "留言编号,留言用户,留言主题,留言详情,一级标签"
    return write_csv(tmp_path / "messages.csv", header, [*tipdm_rows(EXTERNAL), "999,A999,,,环境卫生"])


def test_train_from_csv_maps_labels_and_counts_what_it_skips(db, tmp_path, tipdm_csv):
    label_map = write_csv(tmp_path / "map.csv", "label,category_code", ["环境卫生,SJ0101", "市政设施,BJ0201"])
    data = classifier.train_from_csv(tipdm_csv, label_map)
    assert data.counts() == {"BJ0201": 32, "SJ0101": 32}
    assert data.unmapped == {"邻里关系": 32} and data.blank == 1
    first = data.texts[data.labels.index("SJ0101")]
    assert first == classifier.text_of("小区门口垃圾没人清运", "小区门口垃圾堆了好几天没人清运，臭味很大")


def test_train_from_csv_reads_plain_columns_with_a_bom(db, tmp_path):
    rows = ['路灯不亮,"晚上一片漆黑",lamp'] * 5 + ["垃圾没人清运,垃圾堆积,trash"] * 5
    data_csv = write_csv(tmp_path / "plain.csv", "title,description,label", rows, encoding="utf-8-sig")
    label_map = write_csv(tmp_path / "map.csv", "label,category_code", ["lamp,BJ0201", "trash,SJ0101"])
    data = classifier.train_from_csv(data_csv, label_map)
    assert data.counts() == {"BJ0201": 5, "SJ0101": 5} and data.texts[0] == "路灯不亮\n晚上一片漆黑"


@pytest.mark.parametrize(
    ("map_rows", "message"),
    [
        (["环境卫生,SJ0101", "市政设施,XX9999"], "没有这些分类代码：XX9999"),
        (["环境卫生,SJ0101", "环境卫生,BJ0201"], "第 3 行：标签“环境卫生”已对应到 SJ0101"),
        (["环境卫生,"], "第 2 行：label 和 category_code 都须填写"),
        ([], "是空的"),
    ],
)
def test_a_bad_label_map_is_refused_with_the_reason(db, tmp_path, tipdm_csv, map_rows, message):
    label_map = write_csv(tmp_path / "map.csv", "label,category_code", map_rows)
    with pytest.raises(classifier.TrainingError, match=message):
        classifier.train_from_csv(tipdm_csv, label_map)


def test_unreadable_or_wrongly_shaped_files_are_refused(db, tmp_path, tipdm_csv):
    good_map = write_csv(tmp_path / "map.csv", "label,category_code", ["环境卫生,SJ0101"])
    with pytest.raises(classifier.TrainingError, match="须有 label 和 category_code"):
        classifier.train_from_csv(tipdm_csv, write_csv(tmp_path / "m2.csv", "标签,分类", ["a,b"]))
    no_label = write_csv(tmp_path / "nolabel.csv", "title,description", ["路灯不亮,晚上很黑"])
    with pytest.raises(classifier.TrainingError, match="须有 label"):
        classifier.train_from_csv(no_label, good_map)
    gbk = write_csv(
        tmp_path / "gbk.csv", "title,description,label", ["路灯不亮,晚上很黑,环境卫生"], encoding="gbk"
    )
    with pytest.raises(classifier.TrainingError, match="UTF-8"):
        classifier.train_from_csv(gbk, good_map)


# ---------------------------------------------------------------- the command


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("cases", "train-classifier", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_command_trains_from_a_csv_writes_the_model_and_audits(db, tmp_path, tipdm_csv, model_path, now):
    label_map = write_csv(
        tmp_path / "map.csv", "label,category_code", ["环境卫生,SJ0101", "市政设施,BJ0201", "邻里关系,SJ0801"]
    )
    out = run("--from-csv", str(tipdm_csv), "--label-map", str(label_map))
    assert "训练样本 96 条，3 个分类" in out and "SJ0101 暴露垃圾：32" in out and "BJ0201 路灯：32" in out
    assert "缺少文字或标签，跳过 1 行" in out and "留出 19 条检验：准确率" in out
    model = classifier.load(model_path)
    assert model.source == "csv:messages.csv" and model.samples == 96
    assert model.predict_top(UNSEEN["SJ0801"], k=1)[0][0] == "SJ0801"
    entry = AuditEntry.objects.get(action="case.classifier_trained")
    assert entry.actor_label == "system"
    assert entry.after["version"] == model.version and entry.after["source"] == "csv:messages.csv"
    assert entry.after["classes"] == {"BJ0201": 32, "SJ0101": 32, "SJ0801": 32}
    assert entry.after["blank"] == 1 and entry.after["unmapped"] == {}
    assert 0.9 <= entry.after["holdout_accuracy"] <= 1


def test_command_trains_from_closed_cases_to_the_given_output(world, tmp_path, model_path, now):
    closed_cases(world, n=5)
    output = tmp_path / "elsewhere" / "model.joblib"
    out = run("--output", str(output))
    assert "训练样本 10 条，2 个分类" in out and "SJ0801 邻里纠纷：5" in out
    assert not model_path.exists()
    model = classifier.load(output)
    assert model.source == "cases" and model.labels == ("SJ0101", "SJ0801")
    assert AuditEntry.objects.get(action="case.classifier_trained").after["model"] == "model.joblib"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "没有可用于训练的数据"),
        (("--from-csv", "messages.csv"), "须同时提供"),
        (("--from-csv", "absent.csv", "--label-map", "map.csv"), "文件不存在"),
        (("--from-csv", "messages.csv", "--label-map", "unknown-code.csv"), "没有这些分类代码：XX9999"),
        (("--from-csv", "messages.csv", "--label-map", "one-class.csv"), "可用于训练的分类不足 2 个"),
    ],
)
def test_command_errors_write_nothing(world, tmp_path, tipdm_csv, model_path, now, args, message):
    write_csv(tmp_path / "map.csv", "label,category_code", ["环境卫生,SJ0101"])
    write_csv(tmp_path / "unknown-code.csv", "label,category_code", ["环境卫生,XX9999"])
    write_csv(tmp_path / "one-class.csv", "label,category_code", ["环境卫生,SJ0101"])
    args = [str(tmp_path / a) if a.endswith(".csv") else a for a in args]
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not model_path.exists() and not model_path.parent.exists()
    assert not AuditEntry.objects.filter(action="case.classifier_trained").exists()


# ---------------------------------------------------------------- nightly retraining


def test_nightly_job_retrains_from_cases_once_a_night(world, model_path, now):
    closed_cases(world, n=5)
    now.to("2026-11-23T15:00:00+08:00")
    tasks.retrain_case_classifier()
    assert not model_path.exists()  # daytime
    now.to("2026-11-24T02:10:00+08:00")
    tasks.retrain_case_classifier()
    first = classifier.load(model_path)
    assert first.source == "cases" and first.samples == 10
    now.to("2026-11-24T03:10:00+08:00")
    tasks.retrain_case_classifier()
    assert classifier.load(model_path).version == first.version  # already fresh tonight
    now.to("2026-11-25T02:10:00+08:00")
    tasks.retrain_case_classifier()
    assert classifier.load(model_path).trained_at == clock.now()
    assert AuditEntry.objects.filter(action="case.classifier_trained").count() == 2


def test_nightly_job_keeps_a_larger_csv_model(world, model, model_path, now):
    closed_cases(world, n=5)
    classifier.save(dataclasses.replace(model, source="csv:start.csv"), model_path)
    now.to("2026-11-24T02:10:00+08:00")
    tasks.retrain_case_classifier()
    assert classifier.load(model_path).source == "csv:start.csv"  # 96 samples > 10 closed cases


def test_nightly_job_without_enough_cases_leaves_things_as_they_are(world, model_path, now):
    now.to("2026-11-24T02:10:00+08:00")
    tasks.retrain_case_classifier()
    assert not model_path.exists()


# ---------------------------------------------------------------- on real messages


def test_real_citizen_messages_are_classified_well_above_chance(tmp_path):
    if not (TIPDM / "split" / "train.csv").is_file():
        pytest.skip(f"TipDM citizen messages not found: {TIPDM} (the shared data folder)")
    train_rows, _blank = classifier.read_labelled_csv(TIPDM / "split" / "train.csv")
    test_rows, _blank = classifier.read_labelled_csv(TIPDM / "split" / "test.csv")
    train_rows, test_rows = train_rows[:1500], test_rows[:400]
    model = classifier.train([t for t, _y in train_rows], [y for _t, y in train_rows])
    assert len(model.labels) == 7
    first = [top[0][0] for top in model.predict_top_many([t for t, _y in test_rows], k=1)]
    accuracy = sum(p == y for p, (_t, y) in zip(first, test_rows, strict=True)) / len(test_rows)
    assert accuracy > 0.8  # chance (the largest class) is about 0.22
