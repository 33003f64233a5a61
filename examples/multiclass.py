"""Several classes at once: softmax + cross-entropy on the four Fashion-MNIST classes shipped
with fpkernels (trouser, dress, sandal, ankle boot) (python examples/multiclass.py).

The network ends in a plain Dense layer of 4 "logits"; the loss softmax_cross_entropy applies
the softmax itself (fused and numerically stable) and takes the integer labels 0..3 directly.
"""
import numpy as np

import fpkernels as fk
from fpkernels import datasets

images, labels, names = datasets.load_fashion_slice()        # 1,600 images, labels 0..3
X = datasets.to_inputs(images, size=(100, 100))              # (1600, 10000) in [0, 1]
train, test = datasets.stratified_split(labels, test_fraction=0.25, seed=0)

rng = np.random.default_rng(0)
network = fk.nn.Sequential([
    fk.nn.Dense(10_000, 64, activation="swish", weight_init="xavier", rng=rng),
    fk.nn.Dense(64, 32, activation="swish", weight_init="xavier", rng=rng),
    fk.nn.Dense(32, len(names), weight_init="xavier", rng=rng),   # logits, no activation
])
print(network.summary())

history = network.fit(X[train], labels[train], loss="softmax_cross_entropy",
                      optimizer=fk.optimizers.get("adam", lr=3e-4),
                      epochs=30, batch_size=32, log_every=10, stop_below=0.02,
                      validation_split=0.1)

logits = network.predict(X[test])
probabilities = fk.activations.get("softmax").forward(logits)   # rows sum to 1
predicted = np.argmax(probabilities, axis=1)
print(f"held-out test accuracy: {np.mean(predicted == labels[test]):.2%} on {len(test)} images")

print("confusion matrix (rows: true class, columns: predicted):")
confusion = np.zeros((len(names), len(names)), int)
np.add.at(confusion, (labels[test], predicted), 1)
width = max(len(n) for n in names)
print(" " * width + "  " + " ".join(f"{n[:7]:>7}" for n in names))
for name, row in zip(names, confusion):
    print(f"{name:>{width}}  " + " ".join(f"{v:7d}" for v in row))
