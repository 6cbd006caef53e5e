"""Embedding nncompile in a Python pipeline.

A spec written as a string with no data block, data built in Python (here: scikit-learn's wine
data, with our own split and scaling) and given to fit(): shapes, task and classes are checked
against the model then. Trained with a progress display (verbose=True; by default it shows in a
terminal or a notebook), evaluated, then used to predict. Run: python examples/pipeline.py
"""

import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import nncompile

SPEC = """
let hidden = 32

model WineNet {
  input x: [13]
  dense(hidden, activation=relu)
  dropout(0.1)
  dense(3, activation=softmax)
}

train {
  model: WineNet   loss: categorical_crossentropy       # no `data:`: fit(data=...) brings it
  optimizer: adam(lr=3e-3)   batch_size: 16   epochs: 60
  metrics: [accuracy]
}
"""


def main() -> None:
    x, y = load_wine(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = (
        scaler.transform(x_train).astype(np.float32),
        scaler.transform(x_test).astype(np.float32),
    )

    program = nncompile.compile(text=SPEC, sets={"hidden": 64})  # a hyperparameter override
    print(program.source.splitlines()[0])  # the emitted module is plain text
    history = program.fit(
        data={
            "train": (x_train, y_train.astype(np.int32)),
            "test": (x_test, y_test.astype(np.int32)),
        },
        verbose=True,  # a line per epoch on stderr (a live bar in a terminal)
    )
    seconds = sum(e["seconds"] for e in history.epochs[1:])  # wall time, without compilation
    print(
        f"trained {len(history.epochs)} epochs, final loss {history.epochs[-1]['loss']:.4f}, "
        f"{seconds:.2f} s after the first epoch"
    )
    print("test:", program.evaluate("test"))
    probabilities = program.predict(x_test[:5])
    print("predicted classes:", probabilities.argmax(axis=-1), "true:", y_test[:5])


if __name__ == "__main__":
    main()
