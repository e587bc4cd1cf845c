"""The constructor parameters the estimators share, documented once.

Every estimator's docstring holds the line ``%(shared_parameters)s`` under
*Parameters*; :func:`fill_parameters` puts these entries there, each with the
default the class's own ``__init__`` gives it (so a docstring default cannot
drift from the signature), and a class may replace an entry's description
with its own. Leaf module: it imports nothing from skhidden.
"""

import inspect
import textwrap

__all__ = ["SHARED_PARAMETERS", "fill_parameters"]

MARKER = "    %(shared_parameters)s\n"

# (name, numpydoc type without its default, description indented as in a
# class docstring), in signature order.
SHARED_PARAMETERS = [
    (
        "cell",
        '{"rnn", "lstm", "gru"}',
        """\
        Recurrent cell.
""",
    ),
    (
        "hidden_size",
        "int",
        """\
        Hidden units per direction.
""",
    ),
    (
        "num_layers",
        "int",
        """\
        Stacked recurrent layers.
""",
    ),
    (
        "bidirectional",
        "bool",
        """\
        Also read each sequence backwards from its own last step.
""",
    ),
    (
        "dropout",
        "float",
        """\
        Dropout between layers and before the heads.
""",
    ),
    (
        "aggregation",
        "str or tuple of str",
        """\
        How the states become one vector: ``"last"``, ``"mean"``, ``"max"``,
        ``"attention"``, ``"timesteps"``, or a tuple of pooled strategies whose
        vectors are concatenated, e.g. ``("mean", "max")``.
""",
    ),
    (
        "timesteps",
        "list of int or float",
        """\
        Steps read by ``aggregation="timesteps"``: ints index steps (negative
        from each sequence's end), floats in (0, 1] are fractions of each
        sequence's length. None means ``(0.25, 0.5, 0.75, 1.0)``.
""",
    ),
    (
        "layers",
        '{"last", "all"}',
        """\
        Aggregate the top layer's states, or all layers' concatenated.
""",
    ),
    (
        "states",
        '{"recurrent", "both"}',
        """\
        What the aggregation reads at each step: the recurrent states, or the
        recurrent states with the front-end's features of the same step
        concatenated after them (``"both"``, as LSTM-FCN joins its recurrent
        and convolutional branches). ``hidden_states`` returns what it reads.
""",
    ),
    (
        "n_networks",
        "int",
        """\
        Networks trained side by side from independent initialisations, on
        the same batches, each on its own loss; predictions average their
        heads' outputs (an ensemble, as InceptionTime's five networks).
        ``hidden_states`` and features concatenate the members', attention
        weights average theirs. On the CPU the members train on threads of
        their own where the process has free cores (2 networks on 2 cores:
        1.12 to 1.31 times one network's fit); otherwise fit time grows about
        linearly. The classifier's default is 2 (see the README's accuracy
        section), the other estimators' 1.
""",
    ),
    (
        "frontend",
        '{"none", "patch", "conv", "resnet"}',
        """\
        How input steps become recurrent steps: the raw steps, windows of
        ``frontend_window`` steps flattened (``"patch"``), or a strided 1-D
        convolution with kernel ``frontend_window`` and stride half of it
        (``"conv"``), or that convolution with batch normalisation followed
        by two residual blocks of causal convolutions over the windows
        (``"resnet"``; window t still reads only input steps up to its own
        end). With a front-end every state, ``timesteps`` index,
        staged prediction and attention weight refers to a window.
""",
    ),
    (
        "frontend_window",
        "int",
        """\
        Window (patch) or kernel (conv, resnet) size, in input steps.
""",
    ),
    (
        "frontend_scales",
        "tuple of int",
        """\
        Kernels, in windows, of the ``"resnet"`` stem's first convolution
        (other front-ends ignore it). ``(1,)`` is one kernel of
        ``frontend_window`` steps; ``(1, 2, 4)`` gives half the channels to
        that kernel and a quarter each to kernels of 2 and 4 windows (16 and
        32 steps with the default window), all ending where the window ends,
        so window t still reads nothing after its own span. It costs about
        1.3-1.4 times the fit time; it gained 0.5 points on the panel's
        tuning half and lost 0.2 on its confirmation half (README).
""",
    ),
    (
        "scaling",
        '{"auto", "none", "feature", "sequence", "sequence_level", '
        '"feature_sequence", "feature_running"}',
        """\
        Input standardisation inside the network. ``"auto"`` chooses at fit
        from the training sequences (``scaling_`` says which): where their
        amplitudes differ (the 90th percentile of their per-sequence
        deviations over 1.5 times the 10th, in any feature),
        ``"feature_running"`` for one network and, for several
        (``n_networks``), ``"feature_running"`` and ``"feature_sequence"``
        member by member in turn (``scaling_`` is then that pair); else
        ``"feature"`` (already standardised sequences, as most archive sets
        are). The others: each feature with its mean
        and deviation over all valid training steps (``"feature"``), each
        sequence over its own valid steps (``"sequence"``, removes amplitude
        differences between sequences), that plus each sequence's level and
        log-spread per feature as two extra constant features
        (``"sequence_level"``: shape read scale-free, amplitude still
        known), the ``"feature"`` and ``"sequence"`` views side by side
        (``"feature_sequence"``), or the ``"feature"`` view beside each step
        standardised by its sequence's steps so far (``"feature_running"``:
        scale-free shape, still causal), or none. The per-sequence modes
        other than ``"feature_running"`` read whole sequences: staged
        outputs and ``stream()`` then read each prefix anew, as for a
        bidirectional encoder, and the anomaly detector refuses them.
""",
    ),
    (
        "differences",
        "bool",
        """\
        Read each step beside its first difference (the step minus the one
        before it, zero at a sequence's first step), as MultiRocket adds
        first differences to MiniRocket: the differences are scaled as
        further features with their own training statistics. Causal (a
        step reads only the one before it), so staged outputs and
        ``stream()`` keep their meaning. On for the classifier, whose
        default it is by the accuracy panel (``benchmarks/EXPERIMENTS.md``);
        off for the regressor (its two panel sets moved by under 2%) and the
        transformer (untried): worth a search there.
""",
    ),
    (
        "resample",
        '{"auto", "none"} or int',
        """\
        The length each sequence is read at. ``"none"``: as it is. An int:
        every sequence, in ``fit`` and after, is stretched or squeezed to
        that many steps by linear interpolation (as the archive's
        equal-length ``_eq`` versions of its ragged sets are made).
        ``"auto"``: the longest training length where the training sequences
        differ in length, and as they are where all have one length
        (``resample_length_`` says which, None for as they are). Worth a
        search on ragged data whose lengths are speeds (gestures), see the
        README's accuracy section. Resampled steps are what
        ``hidden_states`` and ``attention_weights`` return; staged outputs
        and ``stream()``, which need each step before its sequence ends,
        refuse a resampled model.
""",
    ),
    (
        "max_epochs",
        'int or "auto"',
        """\
        Training epochs. ``"auto"``: 100, or more for a small training set,
        so that training takes at least 600 optimizer steps (28 sequences in
        batches of 32: 600 epochs of one batch; 100 sequences: 150 epochs).
""",
    ),
    (
        "batch_size",
        "int",
        """\
        Sequences per training batch.
""",
    ),
    (
        "inference_batch_size",
        'int or "auto"',
        """\
        Sequences per batch when predicting, transforming, scoring or
        inspecting (every method after ``fit``), independent of the training
        ``batch_size``: ``"auto"`` reads as many sequences at a time as keep
        one step's states of one direction near 16384 values (256 for 64
        hidden units, one way or both, 1024 for 16), where a CPU's
        throughput was best; an int sets that number (may
        be changed on a fitted model with ``set_params``). Batches are also
        capped in padded steps, so that memory stays bounded however long
        the sequences (a sequence longer than the cap is read alone).
        Results do not depend on it beyond float rounding.
""",
    ),
    (
        "crop",
        "float in (0, 1]",
        """\
        Training augmentation (window slicing): below 1, every epoch each
        training sequence is read as a random contiguous window of
        ``ceil(crop * length)`` of its steps; prediction reads whole
        sequences.
""",
    ),
    (
        "warp",
        "float in [0, 1)",
        """\
        Training augmentation (time warping): above 0, every epoch each
        training sequence is first stretched or squeezed by linear
        interpolation to ``round(factor * length)`` steps, ``factor`` drawn
        uniformly from ``[1 - warp, 1 + warp]``, so the model meets each
        pattern at several speeds; prediction reads sequences as they are.
""",
    ),
    (
        "lr",
        "float",
        """\
        Learning rate.
""",
    ),
    (
        "optimizer",
        '{"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class',
        """\
        Optimizer.
""",
    ),
    (
        "weight_decay",
        "float",
        """\
        Weight decay passed to the optimizer.
""",
    ),
    (
        "lr_schedule",
        '{"constant", "cosine"}',
        """\
        Learning rate over the epochs: constant, or cosine annealing from
        ``lr`` to zero at ``max_epochs``.
""",
    ),
    (
        "clip_grad_norm",
        "float or None",
        """\
        Maximum gradient norm; None turns clipping off.
""",
    ),
    (
        "early_stopping",
        "bool",
        """\
        Hold out ``validation_fraction`` of the data (stratified), stop when
        the validation loss has not improved for ``patience`` epochs and keep
        the best weights.
""",
    ),
    (
        "validation_fraction",
        "float",
        """\
        Share of the data held out for early stopping.
""",
    ),
    (
        "patience",
        "int",
        """\
        Epochs without improvement before early stopping.
""",
    ),
    (
        "device",
        "str or torch.device",
        """\
        ``"auto"`` uses CUDA, then MPS, then the CPU; ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` and ``"mps"`` are honoured and must be present.
""",
    ),
    (
        "random_state",
        "int, RandomState instance or None",
        """\
        Seeds weight initialisation, shuffling and dropout; an int makes two
        fits on the CPU give identical predictions.
""",
    ),
    (
        "verbose",
        "int",
        """\
        1 prints a table with one line per epoch.
""",
    ),
    (
        "callbacks",
        "list of skorch callbacks",
        """\
        Extra skorch callbacks (or ``(name, callback)`` pairs).
""",
    ),
]


def _default(value):
    return f'"{value}"' if isinstance(value, str) else repr(value)


def fill_parameters(descriptions=None):
    """Class decorator: put the shared parameter entries into the docstring.

    Parameters
    ----------
    descriptions : dict of str to str, optional
        Descriptions that replace the shared ones for this class (plain
        text; indented here).

    Returns
    -------
    decorator : callable
        Takes the class and returns it with ``__doc__`` filled in.
    """
    descriptions = descriptions or {}

    def decorate(cls):
        if cls.__doc__ is None or MARKER not in cls.__doc__:
            raise ValueError(
                f"{cls.__name__}'s docstring has no {MARKER.strip()!r} line."
            )
        signature = inspect.signature(cls.__init__).parameters
        entries = []
        for name, kind, description in SHARED_PARAMETERS:
            if name not in signature:  # a parameter this estimator does not offer
                continue
            if name in descriptions:
                text = textwrap.dedent(descriptions[name]).strip()
                description = textwrap.indent(text, " " * 8) + "\n"
            default = _default(signature[name].default)
            entries.append(f"    {name} : {kind}, default={default}\n{description}")
        cls.__doc__ = cls.__doc__.replace(MARKER, "".join(entries))
        return cls

    return decorate
