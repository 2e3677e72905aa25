"""The models: baselines, a linear model, trees, an MLP and a DeepLOB-style network.

Every model takes the same ``Inputs`` (scaled features, the raw levels, the
time index for windows) and returns class probabilities (down, stationary,
up). Seeds make every fit repeatable. The heavy libraries (scikit-learn,
LightGBM, PyTorch: ``pip install makerkit[ml]``) are imported when a model
that needs them is built.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError

__all__ = ["MODELS", "Inputs", "Model", "make_model"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
CLASSES = 3


class Inputs(msgspec.Struct, frozen=True, kw_only=True):
    """What the models read: ``x`` scaled features, ``raw`` scaled levels, ``last_move``."""

    x: F64
    raw: F64
    last_move: F64
    rows: I64  # positions in the full dataset (windows reach back from them)


class Model:
    """fit on train (validation for early stopping), then predict class probabilities."""

    name: ClassVar[str] = ""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, train: Inputs, y: I64, val: Inputs, y_val: I64, raw_all: F64) -> None:
        raise NotImplementedError

    def predict_proba(self, data: Inputs, raw_all: F64) -> F64:
        raise NotImplementedError


def _one_hot(cls: I64) -> F64:
    out = np.zeros((cls.size, CLASSES))
    out[np.arange(cls.size), cls] = 1.0
    return out


class Majority(Model):
    """Always the most frequent training class."""

    name = "majority"

    def fit(self, train: Inputs, y: I64, val: Inputs, y_val: I64, raw_all: F64) -> None:
        self.cls = int(np.bincount(y, minlength=CLASSES).argmax())

    def predict_proba(self, data: Inputs, raw_all: F64) -> F64:
        return _one_hot(np.full(data.x.shape[0], self.cls, dtype=np.int64))


class Persistence(Model):
    """The last mid move goes on (no move yet: stationary)."""

    name = "persistence"

    def fit(self, train: Inputs, y: I64, val: Inputs, y_val: I64, raw_all: F64) -> None:
        return None

    def predict_proba(self, data: Inputs, raw_all: F64) -> F64:
        return _one_hot((np.sign(data.last_move) + 1).astype(np.int64))


class Logistic(Model):
    """Multinomial logistic regression on the scaled features."""

    name = "logistic"

    def fit(self, train: Inputs, y: I64, val: Inputs, y_val: I64, raw_all: F64) -> None:
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(max_iter=1000, C=1.0, random_state=self.seed)
        self.model.fit(np.hstack([train.x, train.raw]), y)

    def predict_proba(self, data: Inputs, raw_all: F64) -> F64:
        return _full(self.model, self.model.predict_proba(np.hstack([data.x, data.raw])))


def _full(model: Any, proba: F64) -> F64:
    """Probabilities for all three classes even if training saw fewer."""
    out = np.zeros((proba.shape[0], CLASSES))
    out[:, np.asarray(model.classes_, dtype=np.int64)] = proba
    return out


class Boosted(Model):
    """LightGBM gradient-boosted trees, early-stopped on the validation split."""

    name = "lightgbm"

    def fit(self, train: Inputs, y: I64, val: Inputs, y_val: I64, raw_all: F64) -> None:
        import lightgbm as lgb

        self.model = lgb.LGBMClassifier(
            n_estimators=600, learning_rate=0.05, num_leaves=31, min_child_samples=50,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=self.seed,
            n_jobs=2, verbose=-1, deterministic=True, force_row_wise=True,
        )  # fmt: skip
        xv = np.hstack([val.x, val.raw])
        # LightGBM 4.6+ names the validation set eval_X/eval_y; older ones take eval_set
        if "eval_X" in inspect.signature(self.model.fit).parameters:
            where: dict[str, Any] = {"eval_X": (xv,), "eval_y": (y_val,)}
        else:
            where = {"eval_set": [(xv, y_val)]}
        self.model.fit(
            np.hstack([train.x, train.raw]), y,
            callbacks=[lgb.early_stopping(30, verbose=False)], **where,
        )  # fmt: skip

    def predict_proba(self, data: Inputs, raw_all: F64) -> F64:
        proba = np.asarray(self.model.predict_proba(np.hstack([data.x, data.raw])))
        return _full(self.model, proba)


class _Torch(Model):
    """Adam, cross-entropy, early stopping on validation loss (patience 3)."""

    epochs: ClassVar[int] = 30
    batch: ClassVar[int] = 512
    lr: ClassVar[float] = 1e-3

    def _net(self, n_in: int) -> Any:
        raise NotImplementedError

    def _tensor(self, data: Inputs, raw_all: F64) -> Any:
        raise NotImplementedError

    def fit(self, train: Inputs, y: I64, val: Inputs, y_val: I64, raw_all: F64) -> None:
        import torch

        torch.manual_seed(self.seed)
        torch.set_num_threads(2)
        xt, xv = self._tensor(train, raw_all), self._tensor(val, raw_all)
        yt, yv = torch.as_tensor(y), torch.as_tensor(y_val)
        self.net = self._net(xt.shape[-1])
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        gen = torch.Generator().manual_seed(self.seed)
        best, best_state, patience = float("inf"), None, 0
        for _ in range(self.epochs):
            self.net.train()
            order = torch.randperm(len(yt), generator=gen)
            for start in range(0, len(yt), self.batch):
                idx = order[start : start + self.batch]
                opt.zero_grad()
                loss_fn(self.net(xt[idx]), yt[idx]).backward()
                opt.step()
            self.net.eval()
            with torch.no_grad():
                v = float(loss_fn(self.net(xv), yv))
            if v < best - 1e-4:
                best, patience = v, 0
                best_state = {k: t.clone() for k, t in self.net.state_dict().items()}
            else:
                patience += 1
                if patience >= 3:
                    break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()

    def predict_proba(self, data: Inputs, raw_all: F64) -> F64:
        import torch

        with torch.no_grad():
            logits = self.net(self._tensor(data, raw_all))
            return torch.softmax(logits, dim=-1).double().numpy()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if "net" in state:  # weights as plain arrays: the file does not need torch's pickles
            net = state["net"]
            state["net"] = (net.shape_in, {k: v.numpy() for k, v in net.state_dict().items()})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "net" in state:
            import torch

            n_in, weights = state["net"]
            net = self._net(n_in)
            net.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
            net.eval()
            state["net"] = net
        self.__dict__.update(state)


class MLP(_Torch):
    """Two hidden layers of 64 on the scaled features and levels."""

    name = "mlp"

    def _net(self, n_in: int) -> Any:
        import torch

        net = torch.nn.Sequential(
            torch.nn.Linear(n_in, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
            torch.nn.ReLU(), torch.nn.Linear(64, CLASSES),
        )  # fmt: skip
        net.shape_in = n_in  # type: ignore[assignment]
        return net

    def _tensor(self, data: Inputs, raw_all: F64) -> Any:
        import torch

        return torch.as_tensor(np.hstack([data.x, data.raw]), dtype=torch.float32)


class DeepLOB(_Torch):
    """A small DeepLOB-style network (Zhang, Zohren and Roberts 2019) over raw levels.

    The last ``window`` book states, each 4 x levels numbers, go through
    convolutions over time and a GRU; its last state is classified. Smaller
    than the paper's (CPU budget), same shape of idea.
    """

    name = "deeplob"
    window: ClassVar[int] = 20
    epochs: ClassVar[int] = 8

    def _net(self, n_in: int) -> Any:
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.shape_in = n_in
                self.conv = torch.nn.Sequential(
                    torch.nn.Conv1d(n_in, 32, kernel_size=3, padding=1), torch.nn.LeakyReLU(0.01),
                    torch.nn.Conv1d(32, 32, kernel_size=3, padding=1), torch.nn.LeakyReLU(0.01),
                )  # fmt: skip
                self.gru = torch.nn.GRU(32, 32, batch_first=True)
                self.out = torch.nn.Linear(32, CLASSES)

            def forward(self, x: Any) -> Any:  # (batch, window, n_in)
                h = self.conv(x.transpose(1, 2)).transpose(1, 2)
                _, last = self.gru(h)
                return self.out(last[-1])

        return Net()

    def _tensor(self, data: Inputs, raw_all: F64) -> Any:
        import torch

        back = np.arange(-self.window + 1, 1)
        idx = np.clip(data.rows[:, None] + back[None, :], 0, raw_all.shape[0] - 1)
        return torch.as_tensor(raw_all[idx], dtype=torch.float32)


MODELS: dict[str, type[Model]] = {
    m.name: m for m in (Majority, Persistence, Logistic, Boosted, MLP, DeepLOB)
}


def make_model(name: str, seed: int = 0) -> Model:
    """A fresh model by name; unknown names list the valid ones."""
    if name not in MODELS:
        msg = f"invalid model {name!r}, must be one of {sorted(MODELS)}"
        raise ConfigError(msg)
    return MODELS[name](seed)
