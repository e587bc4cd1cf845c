"""The recurrent encoder: a stack of RNN, LSTM or GRU layers over padded batches.

Defining pieces:

- ``CELLS``: cell name -> torch recurrent layer class.
- ``valid_mask``: which steps of a padded batch are real.
- ``RecurrentEncoder``: returns every layer's state sequence, so that the states
  of intermediate layers can be aggregated too.

Padding never changes a state at a valid step: unidirectional layers are causal,
so later padding cannot reach earlier steps, and bidirectional layers run on
packed sequences so each backward pass starts at its own sequence's end.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["CELLS", "RecurrentEncoder", "valid_mask"]

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def valid_mask(lengths, n_steps):
    """Boolean mask ``(batch, n_steps)``, True at each sequence's valid steps.

    Parameters
    ----------
    lengths : torch.Tensor of shape (batch,)
        Valid steps per sequence.
    n_steps : int
        Padded length of the batch.

    Returns
    -------
    mask : torch.Tensor of shape (batch, n_steps), bool
    """
    steps = torch.arange(n_steps, device=lengths.device)
    return steps[None, :] < lengths[:, None]


class RecurrentEncoder(nn.Module):
    """Stack of recurrent layers that returns each layer's hidden states.

    Parameters
    ----------
    input_size : int
        Features per input step.
    cell : {"rnn", "lstm", "gru"}, default="gru"
        Recurrent cell type.
    hidden_size : int, default=64
        Hidden units per direction.
    num_layers : int, default=1
        Number of stacked recurrent layers.
    bidirectional : bool, default=False
        Also read each sequence backwards, from its own last valid step.
    dropout : float, default=0.0
        Dropout applied to each layer's output before the next layer.

    Attributes
    ----------
    state_size : int
        Size of one layer's state at one step: ``hidden_size`` times the
        number of directions.
    """

    def __init__(
        self,
        input_size,
        cell="gru",
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
    ):
        super().__init__()
        rnn_class = CELLS[cell]
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.hidden_size = hidden_size
        self.state_size = hidden_size * self.num_directions
        self.layers = nn.ModuleList(
            rnn_class(
                input_size if i == 0 else self.state_size,
                hidden_size,
                batch_first=True,
                bidirectional=bidirectional,
            )
            for i in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def backward_features(self, num_layers):
        """Boolean mask over a concatenation of ``num_layers`` layers' features.

        True where a feature comes from a backward direction.
        """
        one_layer = torch.zeros(self.state_size, dtype=torch.bool)
        one_layer[self.hidden_size :] = self.bidirectional
        return one_layer.repeat(num_layers)

    def forward(self, X, lengths):
        """Encode a padded batch.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_steps, input_size)
            Padded sequences.
        lengths : torch.Tensor of shape (batch,)
            Valid steps per sequence.

        Returns
        -------
        states : list of torch.Tensor of shape (batch, n_steps, state_size)
            One entry per layer, bottom first; zero at padded steps.
        """
        mask = valid_mask(lengths, X.shape[1]).unsqueeze(-1)
        # Packing costs time on CPU and is only needed where a backward pass
        # must start at each sequence's own end.
        pack = self.bidirectional and bool((lengths < X.shape[1]).any())
        return self._run(X, mask, lengths if pack else None)[0]

    def running(self, X, hidden=None):
        """Encode the next steps of series whose earlier steps were encoded before.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_steps, input_size)
            The next steps, all valid.
        hidden : list, optional
            Each layer's final hidden state (``(h, c)`` for an LSTM) as the
            previous call returned it; None at each series' first step.

        Returns
        -------
        states : list of torch.Tensor of shape (batch, n_steps, state_size)
            One entry per layer, bottom first; equal to ``forward`` on the
            whole series at these steps.
        hidden : list
            For the next call.

        Raises
        ------
        ValueError
            For a bidirectional encoder, whose backward direction starts at
            each series' end.
        """
        if self.bidirectional:
            raise ValueError(
                "A bidirectional encoder cannot read a series in parts: its "
                "backward direction starts at the series' end."
            )
        return self._run(X, None, None, hidden)

    def _run(self, X, mask, pack_lengths, hidden=None):
        """Every layer over ``X``: the states (times ``mask``), final hidden states."""
        states, finals = [], []
        inputs = X
        for i, layer in enumerate(self.layers):
            if i > 0:
                inputs = self.dropout(inputs)
            if pack_lengths is not None:
                packed = pack_padded_sequence(
                    inputs, pack_lengths.cpu(), batch_first=True, enforce_sorted=False
                )
                out, final = layer(packed)
                out, _ = pad_packed_sequence(
                    out, batch_first=True, total_length=X.shape[1]
                )
            else:
                out, final = layer(inputs, None if hidden is None else hidden[i])
            if mask is not None:
                out = out * mask
            states.append(out)
            finals.append(final)
            inputs = out
        return states, finals
