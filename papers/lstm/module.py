"""The LightningModule: one network of model.py trained on one experiment of Section 5 with the
paper's learning rate, stopped by the experiment's stopping rule, judged by its success criterion
(Tables 10 and 11)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor

from papers.lstm import fast, tasks
from papers.lstm.data import settings_for
from papers.lstm.model import MemoryCellNetwork, build_network, squared_error
from papers.lstm.paper import reported_for_run
from papers.lstm.realtime import check_realtime, realtime_update
from papers.lstm.tasks import Batch, StoppingRule


class LSTMModule(L.LightningModule):
    """Args (plain values, saved as hyperparameters so a checkpoint rebuilds the module):
    task, task_options: the experiment and its variation (``tasks.task_settings``).
    network: "1997" (the paper), "forget_gate" (Gers et al. 2000), "torch_lstm" (the modern
        reference) or "tanh_rnn" (the BPTT baseline); see ``model.build_network``.
    gradient: "truncated" (the paper's learning algorithm) or "full" (BPTT) for the memory cell
        networks.
    hidden_size: units of "torch_lstm" / "tanh_rnn" (None: as many as the memory cells).
    learning_rate: None: the experiment's (Table 10).
    forget_gate_bias: initial forget gate biases, one per block ("forget_gate" only; None: random
        like the other weights).
    plateau_window, plateau_tolerance: Exp. 2a/2b add the memory cell "whenever the error stops
        decreasing" (Section 5.2): when the mean training error of a window of this many
        sequences is less than this fraction below the previous window's.
    update: when the weights change. "step": after every time step (real-time learning, the
        paper's RTRL variant, Section 4; ``realtime.py``; 1997 network only). "sequence": once per
        batch of sequences, by autograd (the 1997 network with the truncated gradient in one CPU
        process: the same update in closed form, ``fast.py``). None: "step" for the experiments
        with error signals at every step (Exp. 1, 2a, 2b) when the network is the 1997 one, else
        "sequence" (the same thing where errors come only at the sequence end).

    Each sequence counts as one online update of the paper: the training loss is the sum of the
    sequences' errors (not their mean), so a batch of B sequences makes the step that B online
    updates would make if the weights stood still in between.
    """

    def __init__(
        self,
        task: str | int,
        task_options: dict[str, Any] | None = None,
        network: str = "1997",
        gradient: str = "truncated",
        hidden_size: int | None = None,
        learning_rate: float | None = None,
        forget_gate_bias: list[float] | None = None,
        plateau_window: int = 1000,
        plateau_tolerance: float = 0.25,
        update: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.settings = settings_for(task, task_options)
        settings = self.settings
        self.learning_rate = settings.learning_rate if learning_rate is None else learning_rate
        self.net = build_network(
            network,
            **settings.network_kwargs(),
            gradient=gradient,
            hidden_size=hidden_size,
            forget_gate_bias=None if forget_gate_bias is None else tuple(forget_gate_bias),
        )
        self.update = choose_update(update, settings, network, gradient)
        # An update made without autograd, inside the training step: real-time learning
        # (realtime.py), or one update per batch in closed form (fast.py, chosen in on_fit_start).
        self.manual_update: Callable[..., Tensor] | None = None
        if self.update == "step":
            check_realtime(self.net)
            self.manual_update = realtime_update
            self.automatic_optimization = False
        self.grows_memory = settings.add_memory_on_plateau and isinstance(
            self.net, MemoryCellNetwork
        )
        # Counters that must survive a resume (and the reload of the checkpoint for testing).
        self.register_buffer("sequences_seen", torch.tensor(0))
        self.register_buffer("sequences_to_success", torch.tensor(-1))
        self.register_buffer("sequences_to_st1", torch.tensor(-1))
        self.register_buffer("memory_added", torch.tensor(not self.grows_memory))
        self.register_buffer("window", torch.zeros(2, dtype=torch.float64))  # error sum, count
        self.register_buffer("previous_window_error", torch.tensor(float("inf")))
        rule = settings.stop
        self.recent = tasks.RecentSequences(rule.size) if rule.source == "recent" else None
        self.judged: list[tuple[Tensor, ...]] = []
        self.streams: list[tuple[Tensor, ...]] = []  # the continual task's per-stream measures
        # train/loss, summed over the epoch's sequences and logged at its end: a log call per
        # online step cost about a quarter of the step
        self.epoch_error: Tensor | float = 0.0
        self.epoch_sequences = 0

    # --- training ---------------------------------------------------------------------------------

    def on_fit_start(self) -> None:
        if self.update == "step" and self.trainer.world_size > 1:
            raise ValueError(
                "update='step' changes the weights inside each process; it runs in one process "
                "only (use model.update=sequence with DDP)"
            )
        trainer = self.trainer
        if (
            self.update == "sequence"
            and fast.applies(self.net)
            and trainer.world_size == 1
            and trainer.accumulate_grad_batches == 1
            and trainer.gradient_clip_val is None
        ):
            # autograd's update to float precision, a few times faster (bench.py); DDP, gradient
            # accumulation and clipping need autograd's gradients
            self.manual_update = fast.sequence_update
            self.automatic_optimization = False

    def forward(self, inputs: Tensor) -> Tensor:
        self.forward_settings()
        return self.net(inputs)

    def forward_settings(self) -> None:
        if isinstance(self.net, MemoryCellNetwork):
            self.net.memory_enabled = bool(self.memory_added)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        if self.manual_update is not None:
            self.forward_settings()
            outputs = self.manual_update(
                self.net, batch.inputs, batch.targets, batch.mask, self.learning_rate
            )
            # The weights have changed already; the optimizer's step (no gradients: a no-op)
            # counts the update, so that max_steps, logging and checkpointing see it.
            self.optimizers().step()
        else:
            outputs = self(batch.inputs)
        errors = squared_error(outputs, batch.targets, batch.mask)
        world_size = self.trainer.world_size
        self.sequences_seen += len(errors) * world_size
        self.epoch_error = self.epoch_error + errors.detach().sum()
        self.epoch_sequences += len(errors)
        if not bool(self.memory_added):
            self.watch_plateau(*self.global_batch(errors.detach()))
        if self.recent is not None:
            self.judge_recent(outputs.detach(), batch)
        if self.manual_update is not None:  # the weights have changed; the errors are reported
            return errors.sum().detach()
        # Gradients are averaged over processes: times world_size gives the sum over the batch.
        return errors.sum() * world_size

    def global_batch(self, *parts: Tensor) -> tuple[Tensor, ...]:
        """Per-sequence values of the whole global batch: under DDP, from every process, so all
        processes take the same decisions (stop, add the memory cell)."""
        if self.trainer.world_size == 1:
            return parts
        return tuple(self.all_gather(part).flatten(0, 1) for part in parts)

    def judge_recent(self, outputs: Tensor, batch: Batch) -> None:
        """Rules on the most recent training sequences (Exp. 4-6), checked after every batch."""
        self.recent.add(*self.global_batch(*judge(outputs, batch, self.settings)))
        recent, rule = self.recent, self.settings.stop
        if self.sequences_to_success < 0 and rule.met(
            recent.correct, recent.abs_error, recent.error
        ):
            self.stop_training()

    def watch_plateau(self, errors: Tensor) -> None:
        """Exp. 2a/2b: switch the memory cell on once a window's mean error is less than
        ``plateau_tolerance`` below the previous window's (Section 5.2, "abuse problem", solution
        (1)). The output units' logistic tails keep the error falling slowly for a long time, so
        "stops decreasing" needs a tolerance."""
        self.window += torch.stack([errors.sum().double(), errors.new_tensor(len(errors)).double()])
        if self.window[1] < self.hparams.plateau_window:
            return
        mean = self.window[0] / self.window[1]
        if mean > (1.0 - self.hparams.plateau_tolerance) * self.previous_window_error:
            self.memory_added.fill_(True)
        self.previous_window_error.copy_(mean)
        self.window.zero_()

    def stop_training(self) -> None:
        self.sequences_to_success.copy_(self.sequences_seen)
        self.trainer.should_stop = True

    def on_train_epoch_end(self) -> None:
        if self.epoch_sequences:
            self.log_value("train/loss", self.epoch_error / self.epoch_sequences)
            self.epoch_error, self.epoch_sequences = 0.0, 0
        self.log_value("train/sequences", self.sequences_seen.float())
        self.log_value("train/success", float(self.sequences_to_success >= 0))
        if self.sequences_to_success >= 0:
            self.log_value("train/sequences_to_success", self.sequences_to_success.float())
        # The same, logged by every run: infinite while the rule has not held (for the claims).
        stopped = self.sequences_to_success >= 0
        self.log_value(
            "train/sequences_to_stop", float(self.sequences_to_success) if stopped else math.inf
        )
        if self.sequences_to_st1 >= 0:
            self.log_value("train/sequences_to_st1", self.sequences_to_st1.float())
        if self.grows_memory:
            self.log_value("train/memory_added", self.memory_added.float())
        if self.recent is not None:
            self.log_value("train/recent_wrong", (~self.recent.correct).sum().float())
            self.log_value("train/recent_mean_abs_error", self.recent.abs_error.mean())
            self.log_value("train/recent_mean_error", self.recent.error.mean())

    def log_value(self, name: str, value: Tensor | float) -> None:
        """An epoch-level value that every process computed alike (synced to keep DDP quiet)."""
        self.log(name, value, sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.net.parameters(), lr=self.learning_rate)

    # --- validation: the stopping rules on a test sample (Exp. 1-3) -------------------------------

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.collect(batch)

    def on_validation_epoch_end(self) -> None:
        correct, abs_error, error, errors, _ = self.gather_judged()
        streams = self.gather_streams()
        if self.trainer.sanity_checking:
            return
        self.log_streams("val", streams)
        self.log_value("val/loss", errors.mean())
        self.log_value("val/wrong_predictions", (~correct).sum().float())
        self.log_value("val/mean_abs_error", abs_error.mean())
        # Monitored with mode=max: the best checkpoint is the latest one, as the paper tests the
        # network where training stopped.
        self.log_value("val/sequences_seen", self.sequences_seen.float())
        settings = self.settings
        if settings.stop.source != "test" or self.sequences_to_success >= 0:
            return
        first = settings.first_stop
        if first is not None and self.sequences_to_st1 < 0 and first.met(correct, abs_error, error):
            self.sequences_to_st1.copy_(self.sequences_seen)
        if settings.stop.met(correct, abs_error, error):
            self.stop_training()

    # --- test: the success criterion on a fresh test set ------------------------------------------

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.collect(batch)

    def on_test_epoch_end(self) -> None:
        correct, abs_error, error, errors, squared = self.gather_judged()
        wrong, size = int((~correct).sum()), len(correct)
        success = criterion_met(self.settings.stop, correct, abs_error, error)
        self.log_value("test/wrong_predictions", float(wrong))
        self.log_value("test/size", float(size))
        self.log_value("test/fraction_misclassified", wrong / size)
        self.log_value("test/mean_abs_error", abs_error.mean())
        self.log_value("test/mse", squared.mean())
        self.log_value("test/mean_error", error.mean())
        self.log_value("test/loss", errors.mean())
        self.log_value("test/success", float(success))
        self.log_streams("test", self.gather_streams())
        if self.trainer.is_global_zero:
            print(self.success_report(wrong, size, float(abs_error.mean()), success))

    # --- shared -----------------------------------------------------------------------------------

    def collect(self, batch: Batch) -> None:
        outputs, states = self.outputs_and_states(batch.inputs)
        if self.settings.task == "continual":
            self.streams.append(stream_measures(outputs, states, batch, self.settings))
        errors = squared_error(outputs, batch.targets, batch.mask)
        self.judged.append(
            (
                *judge(outputs, batch, self.settings),
                errors,
                judged_squared_error(outputs, batch, self.settings),
            )
        )

    def outputs_and_states(self, inputs: Tensor) -> tuple[Tensor, Tensor | None]:
        """The outputs; for the continual task, also the memory cells' states (None otherwise,
        and for networks without memory cells)."""
        if self.settings.task != "continual" or not isinstance(self.net, MemoryCellNetwork):
            return self(inputs), None
        self.forward_settings()
        trajectory = self.net.run(inputs)
        return trajectory.outputs, trajectory.states

    def gather_streams(self) -> tuple[Tensor, ...]:
        parts = concatenated(self.streams)
        self.streams = []
        return parts

    def log_streams(self, split: str, streams: tuple[Tensor, ...]) -> None:
        """The continual task's measures (Gers et al. 2000): the mean number of strings a stream
        had processed correctly before its first error; for memory cell networks the drift of
        the states: the largest |s_c|, and the mean |s_c| over the last tenth of the streams'
        steps divided by that over the first tenth."""
        if not streams:
            return
        self.log_value(f"{split}/strings_before_error", streams[0].mean())
        if len(streams) > 1:
            largest, first, last = streams[1:]
            self.log_value(f"{split}/max_abs_state", largest.max())
            self.log_value(f"{split}/state_growth", last.mean() / first.mean())

    def gather_judged(self) -> tuple[Tensor, ...]:
        """Per-sequence results of this evaluation (each process evaluates the whole set)."""
        parts = concatenated(self.judged)
        self.judged = []
        return parts

    def success_report(self, wrong: int, size: int, mean_abs_error: float, success: bool) -> str:
        settings, rule = self.settings, self.settings.stop
        stopped = int(self.sequences_to_success)
        lines = [
            f"== success criterion, Exp. {settings.task} ({settings.section}, {settings.title})",
            f"test: {wrong} of {size} sequences processed wrongly ({criterion_text(settings)}), "
            f"mean |error| {mean_abs_error:.4f}; stopping rule on the test set: "
            + ("met" if success else "not met"),
            f"training: {describe_rule(rule)}: "
            + (
                f"met after {stopped:,} sequences"
                if stopped >= 0
                else f"not met within {int(self.sequences_seen):,} sequences"
            ),
        ]
        task_options = self.hparams.task_options or {}
        for r in reported_for_run(settings.task, task_options):
            lines.append(f"paper ({r.source}; {r.setting}): {r.metric} = {r.value:g}")
        return "\n".join(lines)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.recent is not None:
            checkpoint["recent_sequences"] = {
                "correct": self.recent.correct,
                "abs_error": self.recent.abs_error,
                "error": self.recent.error,
            }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.recent is not None and "recent_sequences" in checkpoint:
            for name, values in checkpoint["recent_sequences"].items():
                setattr(self.recent, name, values)


UPDATES = ("sequence", "step")
# Section 5: only Exp. 1, 2a and 2b have error signals before the sequence end, so only there does
# real-time learning differ from one update per sequence.
ERRORS_EVERY_STEP = ("1", "2a", "2b")


def choose_update(
    update: str | None, settings: tasks.TaskSettings, network: str, gradient: str
) -> str:
    """The ``update`` argument of :class:`LSTMModule`, with None resolved (see there)."""
    if update is not None:
        if update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES} or None; got {update!r}")
        return update
    every_step = settings.task in ERRORS_EVERY_STEP
    paper_network = network == "1997" and gradient == "truncated"
    return "step" if every_step and paper_network else "sequence"


def judge(
    outputs: Tensor, batch: Batch, settings: tasks.TaskSettings
) -> tuple[Tensor, Tensor, Tensor]:
    """Each sequence: processed correctly (Table 11's criterion), its mean absolute error and its
    error E (``sequence_error``)."""
    return (
        tasks.sequence_correct(outputs, batch, settings),
        tasks.sequence_abs_error(outputs, batch, settings),
        sequence_error(outputs, batch),
    )


def sequence_error(outputs: Tensor, batch: Batch) -> Tensor:
    """[B]: each sequence's error E, eq. (16)'s squared error sum_k (t^k - y^k)^2 (without the 1/2
    of the training loss) summed over its target steps: what ST3 averages ("average training
    error below beta", Table 11). Exp. 4-6 have one target step: E at the sequence end."""
    return 2.0 * squared_error(outputs, batch.targets, batch.mask)


def concatenated(rows: list[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    """Per-sequence values collected batch by batch: each column concatenated over the batches."""
    return tuple(torch.cat(column).cpu() for column in zip(*rows, strict=True))


def stream_measures(
    outputs: Tensor, states: Tensor | None, batch: Batch, settings: tasks.TaskSettings
) -> tuple[Tensor, ...]:
    """Per stream of the continual task: the strings before the first error and, given the
    states, ``tasks.state_drift`` (largest |s_c|, mean |s_c| in the first and the last tenth)."""
    before = tasks.strings_before_error(tasks.step_correct(outputs, batch, settings), batch)
    if states is None:
        return (before,)
    return (before, *tasks.state_drift(states.detach(), batch.mask))


def judged_squared_error(outputs: Tensor, batch: Batch, settings: tasks.TaskSettings) -> Tensor:
    """[B]: mean squared error against the criterion's targets at the judged steps (Table 8)."""
    steps = tasks.judged_steps(batch, settings).unsqueeze(-1)
    total = ((outputs - batch.eval_targets) ** 2 * steps).sum(dim=(1, 2))
    return total / (steps.sum(dim=(1, 2)) * outputs.shape[-1])


def criterion_met(rule: StoppingRule, correct: Tensor, abs_error: Tensor, error: Tensor) -> bool:
    """The stopping rule applied to a whole set: at most the rule's fraction of wrong sequences
    and, where the rule has them, the mean absolute error and the mean error E below its bounds."""
    wrong_fraction = float((~correct).float().mean())
    if wrong_fraction > rule.max_wrong / rule.size:
        return False
    whole_set = dataclasses.replace(rule, size=len(correct), max_wrong=len(correct))
    return whole_set.met(correct, abs_error, error)


def criterion_text(settings: tasks.TaskSettings) -> str:
    if settings.tolerance is None:
        return "wrong: at some step the legal next symbols are not the most active outputs"
    where = "at some step" if settings.judged_at == "all" else "at the end"
    return f"wrong: some output's |error| >= {settings.tolerance:g} {where}"


def describe_rule(rule: StoppingRule) -> str:
    where = (
        f"the {rule.size:,} most recent training sequences"
        if rule.source == "recent"
        else f"a test sample of {rule.size:,} sequences"
    )
    text = f"at most {rule.max_wrong} wrong of {where}"
    if rule.max_mean_abs_error is not None:
        text += f" and their mean |error| < {rule.max_mean_abs_error:g}"
    if rule.max_mean_error is not None:
        text += f" and their mean squared error E (eq. (16)) < {rule.max_mean_error:g}"
    return text
