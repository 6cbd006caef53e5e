"""Upper bounds of the sizes a spec can ask for, so that `check` rejects `dense(10**12)` or
`epochs: 10**21` with a diagnostic instead of the runtime trying to allocate or run them.

The bounds are far above any model this compiler is for; what sizes multiply up to (a wide layer
after a wide input, many long windows) is caught by the plan's memory estimate (`nncompile plan`),
which training compares with the device's free memory before allocating anything.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_WIDTH = 1 << 20  # units, filters, vocabulary, dimensions, kernel sizes, features, window length
MAX_EXAMPLES = 10**7  # examples a source generates (synthetic n), windows kept (max_windows)
MAX_EPOCHS = 10**6
MAX_BATCH = 1 << 24
MAX_TRIALS = 10**4

Size = Annotated[int, Field(ge=1, le=MAX_WIDTH)]
