"""Scenario schema: every built-in file validates, and every kind of mistake gives FILE:LINE: message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voice_trainer.call.scenarios import (
    STAGES,
    ScenarioError,
    builtin_dir,
    get_scenario,
    load_library,
    load_scenario,
    parse_scenario,
)
from voice_trainer.cli import main

VALID = '''\
id = "demo"
title = "A demo call"
difficulty = 2
goal = "resolve"
facts = ["ordered a lamp", "it arrived broken"]
resolutions = ["send a new lamp by Friday"]

[persona]
name = "Sam"
voice = "en-us+f3"
anger = 60

[reactions]
hang_up_at = 95
accept_below = 40
requires = ["acknowledge"]
triggers = { blame = 1.5 }
soothers = { paraphrase = 1.2 }

[lines.opening]
calm = ["My lamp came broken."]
upset = ["My lamp came broken and nobody answers."]
furious = ["Broken! Again!"]

[lines.vent]
any = ["I am tired of this."]

[lines.details]
upset = ["It was the glass shade."]

[lines.negotiate]
any = ["When would it come?"]

[lines.resolved]
any = ["Fine, thank you."]

[lines.referred]
any = ["Put me through then."]

[lines.hung_up]
any = ["Goodbye."]
'''


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text, encoding="utf-8")
    return p


def line_of(text: str, needle: str) -> int:
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


def problems(tmp_path: Path, text: str, name: str = "demo") -> list[str]:
    p = write(tmp_path, text, name)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    return [str(pr) for pr in info.value.problems]


def test_valid_template_parses(tmp_path):
    s = load_scenario(write(tmp_path, VALID))
    assert s.id == "demo" and s.persona.anger == 60 and s.reactions.triggers == {"blame": 1.5}
    assert s.lines_for("details", "calm") == ("It was the glass shade.",)  # nearest band
    assert s.lines_for("vent", "furious") == ("I am tired of this.",)  # "any"


def test_interrupt_stage_is_optional_and_its_patience_a_reaction(tmp_path):
    s = load_scenario(write(tmp_path, VALID))  # VALID has no [lines.interrupt]: generic cut-in lines
    assert s.lines_for("interrupt", "furious") and s.reactions.interrupt_after_s is None
    own = VALID.replace("soothers = { paraphrase = 1.2 }", "soothers = { paraphrase = 1.2 }\ninterrupt_after_s = 8")
    own = own.replace("[lines.resolved]", '[lines.interrupt]\nany = ["Let me finish!"]\n\n[lines.resolved]')
    s = load_scenario(write(tmp_path, own))
    assert s.reactions.interrupt_after_s == 8 and s.lines_for("interrupt", "calm") == ("Let me finish!",)
    bad = problems(tmp_path, VALID.replace("accept_below = 40", "accept_below = 40\ninterrupt_after_s = 1"))
    assert any("interrupt_after_s" in p and "out of range 3-120" in p for p in bad), bad


def test_every_builtin_scenario_validates():
    lib = load_library()
    assert len(lib) >= 10
    assert set(lib) >= {
        "late-package", "failed-after-days", "double-charge", "no-callback", "wrong-item-again",
        "technician-no-show", "payment-app-failure", "refund-not-received", "cannot-grant-waiver", "abusive-caller",
    }
    for s in lib.values():
        assert 1 <= s.difficulty <= 3 and s.facts and s.resolutions
        assert set(s.lines) == set(STAGES)
    assert lib["abusive-caller"].goal == "refer"
    assert lib["cannot-grant-waiver"].cannot_grant


def test_details_are_optional_and_every_builtin_scenario_has_them(tmp_path):
    assert load_scenario(write(tmp_path, VALID)).details == {}  # a user scenario without details still works
    s = load_scenario(write(tmp_path, VALID.replace("[lines.vent]", '[details]\norder_number = "It is 12."\n\n'
                                                                        "[lines.vent]")))
    assert s.details == {"order_number": "It is 12."} and s.to_dict()["details"] == s.details
    for sc in load_library().values():
        assert {"tried", "date"} & set(sc.details) and len(sc.details) >= 5, sc.id


def test_builtin_folder_is_the_repository_folder():
    repo = Path(__file__).resolve().parent.parent / "scenarios"
    assert sorted(p.name for p in builtin_dir().glob("*.toml")) == sorted(p.name for p in repo.glob("*.toml"))


# (mutation of VALID, text on the line the error must point to, part of the message)
CASES = [
    pytest.param(lambda t: t.replace('anger = 60', 'anger = 60 60'), 'anger = 60 60', "not valid TOML", id="toml"),
    pytest.param(lambda t: t.replace('title = "A demo call"\n', ''), None, "missing required key 'title'",
                 id="missing-key"),
    pytest.param(lambda t: t.replace('goal = "resolve"', 'goal = "resolve"\ncolour = "red"'), 'colour =',
                 "unknown key 'colour'", id="unknown-top"),
    pytest.param(lambda t: t.replace('anger = 60', 'anger = 60\nage = 40'), 'age = 40', "unknown key 'age'",
                 id="unknown-persona-key"),
    pytest.param(lambda t: t.replace('hang_up_at = 95', 'hang_up_at = 95\npatience = 3'), 'patience',
                 "unknown key 'patience'", id="unknown-reaction-key"),
    pytest.param(lambda t: t.replace('[lines.vent]', '[lines.smalltalk]\nany = ["x"]\n\n[lines.vent]'),
                 '[lines.smalltalk]', "unknown key 'smalltalk'", id="unknown-stage"),
    pytest.param(lambda t: t.replace('furious = ["Broken! Again!"]', 'livid = ["Broken! Again!"]'), 'livid',
                 "unknown key 'livid'", id="unknown-band"),
    pytest.param(lambda t: t.replace('id = "demo"', 'id = "Demo Call"'), 'id = "Demo Call"', "lower-case",
                 id="bad-id"),
    pytest.param(lambda t: t.replace('id = "demo"', 'id = "other"'), 'id = "other"', "does not match the file name",
                 id="id-not-file-name"),
    pytest.param(lambda t: t.replace('difficulty = 2', 'difficulty = 5'), 'difficulty = 5', "out of range 1-3",
                 id="difficulty-range"),
    pytest.param(lambda t: t.replace('difficulty = 2', 'difficulty = "hard"'), 'difficulty =', "whole number",
                 id="difficulty-type"),
    pytest.param(lambda t: t.replace('goal = "resolve"', 'goal = "win"'), 'goal =', "goal must be one of",
                 id="goal"),
    pytest.param(lambda t: t.replace('facts = ["ordered a lamp", "it arrived broken"]', 'facts = []'), 'facts =',
                 "empty list", id="facts-empty"),
    pytest.param(lambda t: t.replace('"it arrived broken"', '3'), 'facts =', "facts[1] must be a string",
                 id="fact-type"),
    pytest.param(lambda t: t.replace('"it arrived broken"', '"' + "very " * 30 + 'long"'), 'facts =',
                 "keep facts short", id="fact-too-long"),
    pytest.param(lambda t: t.replace('resolutions = ["send a new lamp by Friday"]', 'resolutions = "refund"'),
                 'resolutions =', "must be a list of strings", id="resolutions-type"),
    pytest.param(lambda t: t.replace('anger = 60', 'anger = 140'), 'anger = 140', "out of range 0-100",
                 id="anger-range"),
    pytest.param(lambda t: t.replace('voice = "en-us+f3"', 'voice = "en-us; rm -rf /"'), 'voice =',
                 "is not a voice name", id="voice"),
    pytest.param(lambda t: t.replace('name = "Sam"\n', ''), '[persona]', "persona is missing 'name'",
                 id="persona-missing"),
    pytest.param(lambda t: t.replace('requires = ["acknowledge"]', 'requires = ["hypnosis"]'), 'requires =',
                 "unknown technique id 'hypnosis'", id="unknown-technique"),
    pytest.param(lambda t: t.replace('blame = 1.5', 'shouting = 1.5'), 'triggers =',
                 "unknown red-flag id 'shouting'", id="unknown-red-flag"),
    pytest.param(lambda t: t.replace('blame = 1.5', 'blame = 9'), 'triggers =', "must be a number 0-5",
                 id="weight-range"),
    pytest.param(lambda t: t.replace('accept_below = 40', 'accept_below = 40\nanger_floor = 96'), 'anger_floor',
                 "anger_floor must be below reactions.hang_up_at", id="floor-above-hang-up"),
    pytest.param(lambda t: t.replace('accept_below = 40', 'accept_below = 97'), 'accept_below',
                 "accept_below must be below", id="accept-above-hang-up"),
    pytest.param(lambda t: t.replace('anger = 60', 'anger = 96'), 'anger = 96', "would hang up at once",
                 id="starts-hung-up"),
    pytest.param(lambda t: t.replace('accept_below = 40', 'accept_below = 40\nanger_floor = 50'), 'anger_floor',
                 "no offer could ever be accepted", id="unresolvable"),
    pytest.param(lambda t: t.replace('[lines.hung_up]\nany = ["Goodbye."]\n', ''), '[lines.opening]',
                 "lines.hung_up is missing", id="missing-stage"),
    pytest.param(lambda t: t.replace('[lines.vent]\nany = ["I am tired of this."]', '[lines.vent]'), '[lines.vent]',
                 "lines.vent has no band", id="stage-without-band"),
    pytest.param(lambda t: t.replace('any = ["Goodbye."]', 'any = ["' + "bye " * 120 + '"]'), 'bye bye',
                 "the limit is 400", id="line-too-long"),
    pytest.param(lambda t: t.replace('any = ["Goodbye."]', 'any = [""]'), 'any = [""]', "empty string",
                 id="empty-line"),
    pytest.param(lambda t: t.replace('any = ["Goodbye."]', 'any = []'), 'any = []', "empty list",
                 id="band-empty"),
    pytest.param(lambda t: t.replace('[lines.vent]', '[details]\norder_number = "It is 12."\nshoe_size = "9"\n\n'
                                                   '[lines.vent]'), 'shoe_size', "unknown key 'shoe_size' in [details]",
                 id="unknown-detail"),
    pytest.param(lambda t: t.replace('[lines.vent]', '[details]\namount = 12\n\n[lines.vent]'), 'amount = 12',
                 "details.amount must be a string", id="detail-not-text"),
]


@pytest.mark.parametrize(("mutate", "needle", "message"), CASES)
def test_each_mistake_is_reported_with_file_and_line(tmp_path, mutate, needle, message):
    text = mutate(VALID)
    assert text != VALID
    found = problems(tmp_path, text)
    path = str(tmp_path / "demo.toml")
    want_line = line_of(text, needle) if needle else 1
    hits = [p for p in found if message in p]
    assert hits, found
    assert hits[0].startswith(f"{path}:{want_line}: "), (hits[0], want_line)


def test_inline_table_keys_point_to_their_line(tmp_path):
    text = VALID.replace('[persona]\nname = "Sam"\nvoice = "en-us+f3"\nanger = 60',
                         'persona = { name = "Sam", voice = "en-us+f3", anger = 400 }')
    (msg,) = [p for p in problems(tmp_path, text) if "anger" in p]
    assert f":{line_of(text, 'persona = {')}:" in msg


def test_several_problems_are_all_reported_in_line_order(tmp_path):
    text = VALID.replace("difficulty = 2", "difficulty = 9").replace("anger = 60", "anger = -1")
    found = problems(tmp_path, text)
    assert len(found) == 2
    lines = [int(re.match(r".*?:(\d+): ", p).group(1)) for p in found]
    assert lines == sorted(lines)


def test_non_utf8_file(tmp_path):
    p = tmp_path / "demo.toml"
    p.write_bytes(VALID.encode() + b'\nsummary = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match=r"demo\.toml:\d+: not UTF-8"):
        load_scenario(p)


def test_strings_are_data_never_code(tmp_path):
    sneaky = "{__import__('os').system('echo pwned')} %(x)s ${HOME}"
    s = parse_scenario(VALID.replace("Goodbye.", sneaky), "demo.toml", expect_id="demo")
    assert s.lines["hung_up"]["any"] == (sneaky,)


def test_user_folder_adds_scenarios_and_duplicates_are_errors(tmp_path):
    write(tmp_path, VALID)
    lib = load_library([tmp_path])
    assert "demo" in lib and "late-package" in lib
    assert get_scenario("demo", [tmp_path]).source == str(tmp_path / "demo.toml")
    dup = tmp_path / "dups"
    dup.mkdir()
    write(dup, VALID.replace('id = "demo"', 'id = "late-package"'), "late-package")
    with pytest.raises(ScenarioError, match="duplicate scenario id 'late-package'"):
        load_library([dup])


def test_unknown_id_lists_known_ones():
    with pytest.raises(Exception, match=r"no scenario 'nope'; known: .*late-package"):
        get_scenario("nope")


def test_cli_validate_list_show(tmp_path, capsys):
    good = write(tmp_path, VALID)
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = write(bad_dir, VALID.replace("anger = 60", "anger = 600"))
    assert main(["scenarios", "validate", str(good)]) == 0
    assert main(["scenarios", "validate", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line_of(VALID, 'anger = 60')}: persona.anger = 600 is out of range 0-100" in err
    assert main(["scenarios", "validate"]) == 0  # every built-in one
    capsys.readouterr()
    assert main(["scenarios", "--scenarios-dir", str(tmp_path), "list"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "abusive-caller" in out
    assert main(["scenarios", "show", "late-package"]) == 0
    assert "Dana Whitfield" in capsys.readouterr().out
    assert main(["scenarios", "show", "nope"]) == 2
    assert "no scenario 'nope'" in capsys.readouterr().err
    assert main(["scenarios", "list", "--scenarios-dir", str(tmp_path / "missing")]) == 2
    assert "scenarios folder not found" in capsys.readouterr().err


def test_config_key_adds_scenario_folder(tmp_path, capsys):
    write(tmp_path, VALID)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[caller]\nscenario_dirs = ["{tmp_path}"]\n')
    assert main(["--config", str(cfg), "scenarios", "show", "demo"]) == 0
    assert "A demo call" in capsys.readouterr().out
