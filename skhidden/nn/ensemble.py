"""Several independently initialised networks trained side by side.

``NetworkEnsemble`` holds ``n_networks`` ``HiddenStateNetwork`` members of the
same shape. Its ``forward`` stacks every member's views along the views axis,
so the head-averaged loss (``skhidden.nn.losses``) is the mean of the
members' own losses: each member is trained on its own outputs only, as if
alone, from its own initialisation and on the same batches. Predictions
average over all views, hence over the members, as InceptionTime averages
its five networks.

What the estimators read stays meaningful member by member and is combined:
``hidden_states`` and ``features`` concatenate the members' (in member
order), ``staged`` stacks their views as ``forward`` does, and
``attention_weights`` averages the members' weights (still a distribution
over the valid steps). One step means the same in every member: they share
the front-end's window and stride.
"""

import torch
from torch import nn

from .network import HiddenStateNetwork
from .scaling import scaling_modes

__all__ = ["NetworkEnsemble", "member_networks"]


def member_networks(module):
    """The networks of ``module``: an ensemble's members, or the network itself.

    Parameters
    ----------
    module : HiddenStateNetwork or NetworkEnsemble

    Returns
    -------
    networks : list of HiddenStateNetwork
    """
    return list(getattr(module, "members", [module]))


class NetworkEnsemble(nn.Module):
    """``n_networks`` ``HiddenStateNetwork`` members whose views are stacked.

    Parameters
    ----------
    n_networks : int, default=2
        Members, each initialised independently (draws in member order).
    scaling : str or tuple of str, default="none"
        Every member's input scaling, or one per member in turn (member
        ``i`` reads ``scaling[i % len(scaling)]``): members that see the
        input differently disagree where one alone would be wrong. The
        scalings of one tuple must give the same number of input features.
    **network_params
        Arguments of every member's ``HiddenStateNetwork``. The supervised
        objective only: a self-supervised member predicts steps, not views.

    Attributes
    ----------
    members : nn.ModuleList
        The networks.
    """

    def __init__(self, n_networks=2, scaling="none", **network_params):
        super().__init__()
        if network_params.get("objective", "supervised") != "supervised":
            raise ValueError(
                "An ensemble of networks needs the supervised objective; "
                "self-supervised training predicts steps, which cannot be "
                "averaged as views."
            )
        scalings = scaling_modes(scaling)
        self.members = nn.ModuleList(
            HiddenStateNetwork(scaling=scalings[i % len(scalings)], **network_params)
            for i in range(n_networks)
        )
        widths = {m.scaling.output_size for m in self.members}
        if len(widths) > 1:
            raise ValueError(
                f"The members' scalings {scalings} give different numbers of "
                "input features; one ensemble needs one."
            )

    # Members share their structure (their scalings may differ in mode, not
    # in width); the estimators read it from the first.
    @property
    def scaling(self):
        return self.members[0].scaling

    @property
    def frontend(self):
        return self.members[0].frontend

    @property
    def encoder(self):
        return self.members[0].encoder

    @property
    def aggregation(self):
        return self.members[0].aggregation

    def hidden_states(self, X, lengths):
        """Every member's states concatenated.

        ``(batch, n_windows, n_networks * state_size)``.
        """
        return torch.cat([m.hidden_states(X, lengths) for m in self.members], dim=-1)

    def features(self, X, lengths):
        """Every member's aggregated states concatenated.

        ``(batch, n_networks * n_features)``.
        """
        return torch.cat([m.features(X, lengths) for m in self.members], dim=-1)

    def staged(self, X, lengths):
        """Every member's staged outputs and masks, views stacked as in ``forward``."""
        outputs, masks = zip(*(m.staged(X, lengths) for m in self.members), strict=True)
        return self.join(outputs), torch.cat(masks, dim=-1)

    def prefix_outputs(self, X, lengths, whole_lengths=None):
        """Every member's ``prefix_outputs``, views stacked as in ``forward``."""
        members = self.members
        return self.join([m.prefix_outputs(X, lengths, whole_lengths) for m in members])

    def attention_pool(self):
        """The first member's ``AttentionPool``; raises ValueError if there is none."""
        return self.members[0].attention_pool()

    def attention_weights(self, X, lengths):
        """The members' attention weights averaged, ``(batch, n_steps)``."""
        weights = [m.attention_weights(X, lengths) for m in self.members]
        return torch.stack(weights).mean(dim=0)

    def forward(self, X, lengths):
        """Every member's head outputs, ``(batch, n_networks * n_views, n_outputs)``."""
        return self.join([m(X, lengths) for m in self.members])

    @staticmethod
    def join(outputs):
        """The members' head outputs, in member order, as ``forward`` returns them."""
        return torch.cat(outputs, dim=-2)
