"""The replay engine: answers a question exactly as a recorded real reasoning model did.

The recordings are the raw SimpleQA runs in the data directory
(`<data_dir>/outcomes/simpleqa/outputs/<model folder>/*.jsonl`, 800 questions per run). They let
the switch, triage and benchmarks be exercised against real hybrid-reasoning traces without a
GPU. A question is found by the text of the last user turn, whitespace-normalised, exact match.

Which recorded run answers a plan:
- `off` -> the `no_think` run.
- `on`, Gemini 2.5 Flash and Claude Sonnet 4 (recorded under thinking budgets): the run with the
  largest recorded budget <= `plan.budget` (the largest of all when the plan has no budget); a
  budget below every recorded one raises `BudgetError`. The providers treat budgets loosely, so
  a few recorded traces run slightly past their budget; they are replayed as recorded.
- `on`, Qwen3-8B / Qwen3-14B: these were recorded with no thinking cap, so the budget cannot be
  applied to them. `exd0` (natural thinking) answers, or `exd2` (an early end of thinking
  replaced twice by "Wait", as in s1) when `plan.min_thinking > 0`; `exd4` is not used.

What is replayed and what is not:
- Qwen3 traces are the raw `<think>` text (markers and `<|im_end|>` stripped). Gemini and Claude
  traces are the providers' thought summaries, not the hidden raw reasoning.
- In some Qwen3-8B `exd2`/`exd4` runs the model ended its turn without closing thinking; then the
  whole output is the trace and the answer is empty, as recorded.
- `prompt_tokens` is always 0: prompt sizes were not recorded.
- Claude runs record only `completion_tokens`; it is split into thinking and answer tokens in
  proportion to the characters of the thought summary and the response. That split is an
  estimate; the two parts always sum to the recorded total.
- The dialect, temperature, seed and `answer_max_tokens` are ignored: the output is fixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from thinkswitch.engines.base import Engine
from thinkswitch.kernel.errors import (
    BudgetError,
    ModelNotFoundError,
    ReplayMissError,
    UnknownNameError,
    UsageError,
)
from thinkswitch.kernel.events import AnswerDelta, EngineEvent, Finish, ThinkingDelta, UsageReport
from thinkswitch.kernel.messages import last_user_text
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.settings import Settings
from thinkswitch.thinking.dialects import Dialect

Family = Literal["qwen3", "gemini", "claude"]

OUTPUTS_DIR = Path("outcomes", "simpleqa", "outputs")
DEFAULT_MODEL = "Qwen3-8B"
QWEN_END = "<|im_end|>"
# Qwen3 soft switches a caller may have appended to the question already.
SOFT_SWITCHES = (" /no_think", " /think")
MISS_QUESTION_CHARS = 60


@dataclass(frozen=True, slots=True)
class RecordedModel:
    """One model with raw runs: where its files are and how its rows are read."""

    name: str
    folder: str
    file_prefix: str
    family: Family
    budgets: tuple[int, ...] = ()

    def path(self, outputs: Path, run: str) -> Path:
        return outputs / self.folder / f"{self.file_prefix}_simpleqa_{run}.jsonl"


MODELS: Mapping[str, RecordedModel] = MappingProxyType(
    {
        model.name.lower(): model
        for model in (
            RecordedModel("Qwen3-8B", "qwen3-8b", "Qwen3-8B", "qwen3"),
            RecordedModel("Qwen3-14B", "qwen3-14b", "Qwen3-14B", "qwen3"),
            RecordedModel(
                "gemini-2.5-flash",
                "gemini-2_5-flash",
                "gemini-2.5-flash",
                "gemini",
                (256, 512, 1024, 2048),
            ),
            RecordedModel(
                "claude-sonnet-4", "claude-sonnet-4", "claude-sonnet4", "claude", (1024, 2048, 4096)
            ),
        )
    }
)


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded answer, with the markers of the model's chat format stripped."""

    question_id: str
    question: str
    thinking: str
    answer: str
    thinking_tokens: int
    answer_tokens: int
    correct: bool | None = None


def find_model(name: str | None) -> RecordedModel:
    """The recorded model for a friendly or folder name (case-insensitive); default Qwen3-8B."""
    wanted = (name or DEFAULT_MODEL).strip().lower()
    for model in MODELS.values():
        if wanted in (model.name.lower(), model.folder.lower()):
            return model
    raise UnknownNameError("replay model", name or "", (m.name for m in MODELS.values()))


def normalise_question(text: str) -> str:
    """Whitespace-normalised question text, without a trailing Qwen3 soft switch."""
    text = " ".join(text.split())
    for switch in SOFT_SWITCHES:
        text = text.removesuffix(switch)
    return text


def split_tokens(total: int, thinking_chars: int, answer_chars: int) -> tuple[int, int]:
    """Estimate (thinking, answer) tokens of `total` in proportion to their characters."""
    chars = thinking_chars + answer_chars
    thinking = round(total * thinking_chars / chars) if chars else 0
    return thinking, total - thinking


def parse_row(family: Family, row: Mapping[str, Any]) -> Recording:
    """One jsonl row of a raw run as a `Recording`."""
    question_id, question = str(row["id"]), str(row["problem"])
    if family == "qwen3":
        thought = str(row.get("thought", "")).removeprefix("<think>\n")
        # A turn that ended inside thinking has no `</think>`, only `<|im_end|>`.
        thought = thought.removesuffix("</think>").removesuffix(QWEN_END)
        return Recording(
            question_id=question_id,
            question=question,
            thinking=thought,
            answer=str(row["response"]).removesuffix(QWEN_END),
            thinking_tokens=int(row.get("thinking_tokens", 0)),
            answer_tokens=int(row["response_tokens"]),
            correct=_graded(row),
        )
    thought, response = str(row["thought_summary"]), str(row["response"])
    if family == "gemini":
        thinking_tokens, answer_tokens = int(row["reasoning_tokens"]), int(row["response_tokens"])
    else:
        thinking_tokens, answer_tokens = split_tokens(
            int(row["completion_tokens"]), len(thought), len(response)
        )
    return Recording(question_id, question, thought, response, thinking_tokens, answer_tokens,
                     _graded(row))


def _graded(row: Mapping[str, Any]) -> bool | None:
    """SimpleQA's grade of the recorded answer: A correct, B incorrect, C not attempted (not
    correct either); None when the row has no grade."""
    grade = row.get("grading")
    return None if grade is None else str(grade).strip().upper() == "A"


def chunks(text: str, words: int) -> Iterator[str]:
    """`text` in pieces of `words` words; the pieces join back to `text` exactly."""
    parts = re.split(r"(?<=\s)(?=\S)", text)
    for start in range(0, len(parts), words):
        piece = "".join(parts[start : start + words])
        if piece:
            yield piece


def _shorten(text: str) -> str:
    return text if len(text) <= MISS_QUESTION_CHARS else text[: MISS_QUESTION_CHARS - 1] + "…"


class ReplayEngine(Engine):
    """Replays the recorded runs of one model. Runs are read on first use and kept."""

    name: ClassVar[str] = "replay"

    def __init__(self, data_dir: Path, model: str | None = None, chunk_words: int = 4) -> None:
        if chunk_words < 1:
            raise UsageError(f"chunk_words must be at least 1, not {chunk_words}")
        self._recorded = find_model(model)
        self._outputs = Path(data_dir) / OUTPUTS_DIR
        self._chunk_words = chunk_words
        self._runs: dict[str, dict[str, Recording]] = {}
        folder = self._outputs / self._recorded.folder
        if not folder.is_dir():
            raise ModelNotFoundError(
                f"no recorded runs of {self._recorded.name} at {folder}; "
                "set THINKSWITCH_DATA or --data-dir to the thinkswitch data directory"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplayEngine:
        return cls(settings.data_dir, settings.model)

    @property
    def model(self) -> str:
        return self._recorded.name

    def run_for(self, plan: ThinkingPlan) -> str:
        """The name of the recorded run that answers `plan` (see the module docstring)."""
        if plan.mode == "off":
            return "no_think"
        budgets = self._recorded.budgets
        if not budgets:
            return "exd2" if plan.min_thinking > 0 else "exd0"
        if plan.budget is None:
            return f"budget{max(budgets)}"
        fitting = [budget for budget in budgets if budget <= plan.budget]
        if not fitting:
            recorded = ", ".join(str(budget) for budget in budgets)
            raise BudgetError(
                f"budget {plan.budget} is below every recorded budget of "
                f"{self._recorded.name} ({recorded})"
            )
        return f"budget{max(fitting)}"

    def lookup(self, question: str, plan: ThinkingPlan) -> Recording:
        """The recording that answers `question` under `plan`."""
        run = self.run_for(plan)
        found = self._run(run).get(normalise_question(question))
        if found is None:
            raise ReplayMissError(
                f"no {self._recorded.name} recording ({run}) for "
                f"{_shorten(normalise_question(question))!r}; replay knows only the SimpleQA "
                "questions"
            )
        return found

    def recorded_correctness(self, request: GenerationRequest) -> bool | None:
        """Whether the recorded answer that `request` replays was graded correct; None for a
        question without a recording. Shadow pairs on this engine carry it."""
        try:
            return self.lookup(last_user_text(request.messages), request.plan).correct
        except (ReplayMissError, BudgetError):
            return None

    def questions(self, limit: int | None = None) -> list[str]:
        """Questions that have recordings, in file order (every run has the same ones)."""
        if limit is not None and limit < 0:
            raise UsageError(f"limit must not be negative, not {limit}")
        recorded = [recording.question for recording in self._run("no_think").values()]
        return recorded if limit is None else recorded[:limit]

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        recording = self.lookup(last_user_text(request.messages), request.plan)
        for piece in chunks(recording.thinking, self._chunk_words):
            yield ThinkingDelta(piece)
        for piece in chunks(recording.answer, self._chunk_words):
            yield AnswerDelta(piece)
        yield UsageReport(
            prompt_tokens=0,
            thinking_tokens=recording.thinking_tokens,
            answer_tokens=recording.answer_tokens,
        )
        yield Finish("stop")

    def _run(self, run: str) -> dict[str, Recording]:
        """One recorded run indexed by normalised question, read once per engine."""
        if run not in self._runs:
            self._runs[run] = self._load(self._recorded.path(self._outputs, run))
        return self._runs[run]

    def _load(self, path: Path) -> dict[str, Recording]:
        if not path.is_file():
            raise ModelNotFoundError(
                f"missing recorded run {path}; "
                "set THINKSWITCH_DATA or --data-dir to the thinkswitch data directory"
            )
        index: dict[str, Recording] = {}
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    recording = parse_row(self._recorded.family, json.loads(line))
                except (ValueError, KeyError, TypeError) as error:
                    raise ModelNotFoundError(
                        f"unreadable recording at {path}:{number}: {error!r}"
                    ) from None
                index.setdefault(normalise_question(recording.question), recording)
        return index
