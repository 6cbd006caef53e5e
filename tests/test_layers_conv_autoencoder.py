"""specs/conv_autoencoder.nn's stated result (slow-marked; CI runs it): its 16-number code
reconstructs the held-out digits better than the best linear code of that size (PCA with 16
components, fitted on the same training split) and far better than the mean image."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA

import nncompile.api as api

SPEC = Path(__file__).resolve().parents[1] / "specs" / "conv_autoencoder.nn"


@pytest.mark.slow
def test_conv_autoencoder_beats_pca_with_the_same_code_size():
    program = api.compile(SPEC)
    data = program.load_data()
    (x_train, y_train), (x_test, _) = data.splits["train"], data.splits["test"]
    np.testing.assert_array_equal(x_train, y_train)  # the image is its own target
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca = PCA(16).fit(flat_train)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2))
    mean_mse = float(np.mean((flat_train.mean(axis=0) - flat_test) ** 2))
    program.fit()
    mse = program.evaluate()["loss"]
    reconstruction = program.predict(x_test[:4])
    assert reconstruction.shape == (4, 8, 8, 1)
    assert mse < 0.8 * pca_mse, (mse, pca_mse)  # measured: 0.0066 vs 0.0114
    assert mse < mean_mse / 8, (mse, mean_mse)  # measured: ~11x below
