"""The PyTorch twin of a cnnfast.Sequential: the same layers, in the same positions, with the same
weights, for the end-to-end benchmark (python -m cnnfast.bench --e2e) and the parity tests.

    twin = torch_twin(model)            # a torch.nn.Sequential, weights copied from model
    twin.load_state_dict(to_torch_state(model, twin))   # copy again after training the model

Each cnnfast layer becomes exactly ONE torch module, so the index in "{index}.weight" is the same
position on both sides and model.state_dict() loads into the twin (and back) unchanged:
- Conv2D, Conv2DTranspose and Dense with an `activation` become a subclass of nn.Conv2d /
  nn.ConvTranspose2d / nn.Linear that applies it (its parameters keep their names);
- GlobalAveragePooling2D becomes one module (adaptive average pooling to 1x1, then flatten);
- BatchNormalization(momentum=m, epsilon=e) becomes BatchNorm2d (or BatchNorm1d on flat input)
  with momentum=1 - m (torch's meaning) and eps=e;
- GaussianNoise and NoisyReLU become small modules drawing their noise from torch.
A ReLU layer that cnnfast fuses into the layer before it stays its own nn.ReLU here: fusion is
cnnfast's speed-up, not a change of the architecture. PyTorch is imported only when called
(cnnfast never depends on it)."""

__all__ = ["torch_twin", "to_torch_state"]

_CLASSES = {}


def _activation(torch, name):
    """The function a named activation (cnnfast.layers' names) computes, or None."""
    F = torch.nn.functional
    functions = {
        None: None, "linear": None,
        "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "elu": F.elu,
        "leaky_relu": lambda x: F.leaky_relu(x, 0.2),  # keras.activations.leaky_relu's slope
        "softmax": lambda x: F.softmax(x, dim=1),
    }
    if name not in functions:
        raise ValueError(f"no torch twin for the activation {name!r}")
    return functions[name]


def _classes(torch):
    """The module classes the twin needs beyond torch.nn's own (made once per torch module)."""
    found = _CLASSES.get(id(torch))
    if found is not None:
        return found
    nn, F = torch.nn, torch.nn.functional

    def with_activation(base):
        class Activated(base):
            """`base` followed by a named activation (its parameters keep base's names)."""

            def set_activation(self, name):
                self.activation_name = name
                self.activation_fn = _activation(torch, name)
                return self

            def forward(self, x):
                y = super().forward(x)
                return y if self.activation_fn is None else self.activation_fn(y)

            def extra_repr(self):
                return f"{super().extra_repr()}, activation={self.activation_name!r}"

        Activated.__name__ = Activated.__qualname__ = f"{base.__name__}WithActivation"
        return Activated

    class GlobalAvgPool(nn.Module):
        """(N, C, H, W) -> (N, C): adaptive average pooling to 1x1, flattened."""

        def forward(self, x):
            return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    class Function(nn.Module):
        """A parameter-free named activation (cnnfast.layers.Activation)."""

        def __init__(self, name):
            super().__init__()
            self.name = name
            self.fn = _activation(torch, name)

        def forward(self, x):
            return x if self.fn is None else self.fn(x)

        def extra_repr(self):
            return repr(self.name)

    class GaussianNoise(nn.Module):
        """x + N(0, stddev^2) noise in training, the identity in eval mode."""

        def __init__(self, stddev):
            super().__init__()
            self.stddev = stddev

        def forward(self, x):
            return x + self.stddev * torch.randn_like(x) if self.training else x

    class NoisyReLU(GaussianNoise):
        """relu(x + noise) in training, relu(x) in eval mode."""

        def forward(self, x):
            return F.relu(super().forward(x))

    found = {"Conv2d": with_activation(nn.Conv2d), "ConvTranspose2d": with_activation(nn.ConvTranspose2d),
             "Linear": with_activation(nn.Linear), "GlobalAvgPool": GlobalAvgPool, "Function": Function,
             "GaussianNoise": GaussianNoise, "NoisyReLU": NoisyReLU}
    _CLASSES[id(torch)] = found
    return found


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _module(torch, cls, layer, index):
    """The torch module for one built cnnfast layer."""
    nn = torch.nn
    kind = type(layer).__name__
    config = layer.get_config()
    shape = layer.input_shape
    if kind == "Conv2D":
        padding = config["padding"]
        padding = {"valid": 0, "same": "same"}.get(padding, padding) if isinstance(padding, str) else _pair(padding)
        return cls["Conv2d"](shape[0], config["filters"], _pair(config["kernel_size"]), stride=_pair(config["strides"]),
                             padding=padding, dilation=_pair(config["dilation_rate"]), groups=config["groups"],
                             bias=config["use_bias"]).set_activation(config["activation"])
    if kind == "Conv2DTranspose":
        return cls["ConvTranspose2d"](shape[0], config["filters"], _pair(config["kernel_size"]),
                                      stride=_pair(config["strides"]), padding=_pair(config["padding"]),
                                      output_padding=_pair(config["output_padding"]),
                                      bias=config["use_bias"]).set_activation(config["activation"])
    if kind == "Dense":
        return cls["Linear"](shape[0], config["units"], bias=config["use_bias"]).set_activation(config["activation"])
    if kind == "BatchNormalization":
        norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return norm(shape[0], eps=config["epsilon"], momentum=1.0 - config["momentum"])
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        size = _pair(config["pool_size"])
        stride = size if config["strides"] is None else _pair(config["strides"])
        if kind == "MaxPooling2D":
            return nn.MaxPool2d(size, stride, _pair(config["padding"]))
        return nn.AvgPool2d(size, stride, _pair(config["padding"]), count_include_pad=True)
    simple = {
        "GlobalAveragePooling2D": lambda: cls["GlobalAvgPool"](),
        "Flatten": lambda: nn.Flatten(),
        "ReLU": lambda: nn.ReLU(),
        "LeakyReLU": lambda: nn.LeakyReLU(config["negative_slope"]),
        "PReLU": lambda: nn.PReLU(num_parameters=shape[0]),
        "ELU": lambda: nn.ELU(config["alpha"]),
        "RReLU": lambda: nn.RReLU(config["lower"], config["upper"]),
        "Dropout": lambda: nn.Dropout(config["rate"]),
        "GaussianNoise": lambda: cls["GaussianNoise"](config["stddev"]),
        "NoisyReLU": lambda: cls["NoisyReLU"](config["stddev"]),
        "Softmax": lambda: nn.Softmax(dim=config["axis"]),
        "Activation": lambda: cls["Function"](config["activation"]),
    }
    if kind not in simple:
        raise ValueError(f"layer {index} ({kind}) has no torch twin")
    return simple[kind]()


def to_torch_state(model, twin):
    """model.state_dict() as torch tensors for twin.load_state_dict (strict): the twin's own
    num_batches_tracked counters are kept, the only entries cnnfast does not have."""
    import torch

    state = {k: torch.from_numpy(v) for k, v in model.state_dict().items()}
    for key, value in twin.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = value
    return state


def torch_twin(model, copy_weights=True):
    """A torch.nn.Sequential with the layers of the built cnnfast.Sequential `model`, one module
    per layer at the same index, in the model's dtype, in training mode; with copy_weights its
    parameters and batch-norm statistics are the model's (load_state_dict, strict)."""
    import torch

    cls = _classes(torch)
    twin = torch.nn.Sequential(*(_module(torch, cls, layer, i) for i, layer in enumerate(model.layers)))
    twin = twin.to(torch.float64 if model.dtype.name == "float64" else torch.float32)
    if copy_weights:
        twin.load_state_dict(to_torch_state(model, twin))
    return twin
