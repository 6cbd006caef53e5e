"""Small specs that several test files train, a few seconds each."""

# The runs tests (run folders, --set values, the runs table, compare): digits, a hidden layer of
# `hidden` units, the learning rate a `let` too.
DIGITS = """
let hidden = 8
let lr = 1e-2
data d {
  source: sklearn("digits")
  split: {train: 0.7, val: 0.15, test: 0.15}
  normalize: minmax
}
model M {
  input x: [64]
  dense(hidden, activation=relu)
  dense(10, activation=softmax)
}
train {
  model: M  data: d  loss: categorical_crossentropy
  optimizer: adam(lr=lr)
  batch_size: 64  epochs: 2
  metrics: [accuracy]
  seed: 1
}
"""

# The trackers' tests: iris, `{track}` the train block's `track:` property (str.format).
IRIS_TRACKED = """
data d {{ source: sklearn("iris")  split: {{train: 0.6, val: 0.2, test: 0.2}} }}
let width = 8
model M {{ input x: [4]  dense(width, activation=relu)  dense(3, activation=softmax) }}
train {{ model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 16  epochs: 3  metrics: [accuracy]  {track} }}
"""
