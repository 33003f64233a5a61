"""The paper's complete example (section 18.3) as one short script; `fpkernels demo` runs the
same network with options (python examples/demo.py).

Real grayscale images (trousers and dresses from the Fashion-MNIST slice shipped with
fpkernels), two Swish hidden layers with Xavier weights, a sigmoid output, squared error, Adam,
a log line every 10 epochs and a stopping threshold; then accuracy on held-out images.
"""
import numpy as np

import fpkernels as fk
from fpkernels import datasets

# 1. Preprocessing: each image resized to 100x100, pixels scaled to [0, 1], flattened to a row.
images, labels, names = datasets.load_fashion_slice()
images, labels, names = datasets.select_classes(images, labels, names, ["trouser", "dress"])
X = datasets.to_inputs(images, size=(100, 100))            # (800, 10000) float32
y = labels.astype(np.float32)                              # 0 = trouser, 1 = dress
train, test = datasets.stratified_split(y, test_fraction=0.25, seed=0)

# 2. Initialisation: Xavier weights, zero biases.
rng = np.random.default_rng(0)
network = fk.nn.Sequential([
    fk.nn.Dense(10_000, 64, activation="swish", weight_init="xavier", rng=rng),
    fk.nn.Dense(64, 32, activation="swish", weight_init="xavier", rng=rng),
    fk.nn.Dense(32, 1, activation="sigmoid", weight_init="xavier", rng=rng),
])
print(network.summary())

# 3. Training loop: for each epoch, for each mini-batch: forward pass, squared-error loss,
#    backward pass, Adam update; log every 10 epochs; stop once the loss is below epsilon.
history = network.fit(X[train], y[train], loss="mse",
                      optimizer=fk.optimizers.get("adam", lr=3e-4),
                      epochs=50, batch_size=32, log_every=10, stop_below=0.008)

# 4. Result: accuracy on images the network never saw, and the loss curve.
accuracy = network.evaluate(X[test], y[test])["accuracy"]
print(f"held-out test accuracy: {accuracy:.2%} ({names[0]} vs {names[1]}, {len(test)} images)")
try:
    history.plot(path="loss.png")
    print("loss curve: loss.png")
except ImportError:
    print(history.text_plot())
