"""The estimators skhidden can rebuild from a saved file, by class name.

A leaf module: it imports nothing from skhidden. An estimator enters the
table where it is defined, with the ``register_estimator`` decorator;
persistence looks names up here and so never imports an estimator module.
"""

__all__ = ["ESTIMATORS", "register_estimator", "registered_estimator"]

# Class name -> class, filled as the estimator modules are imported.
ESTIMATORS = {}


def register_estimator(cls):
    """Class decorator: let skhidden's safe format save and rebuild ``cls``.

    Parameters
    ----------
    cls : type
        An estimator class derived from ``BaseHiddenState``.

    Returns
    -------
    cls : type
        The class, unchanged.

    Raises
    ------
    ValueError
        If another class is already registered under the same name.
    """
    known = ESTIMATORS.setdefault(cls.__name__, cls)
    if known is not cls:
        raise ValueError(
            f"An estimator named {cls.__name__} is already registered "
            f"({known.__module__}); saved files name classes, so names must be unique."
        )
    return cls


def registered_estimator(estimator):
    """Whether ``estimator`` is an instance of a registered class itself.

    A subclass defined elsewhere is not: its name would not rebuild it.

    Parameters
    ----------
    estimator : object
        Any object.

    Returns
    -------
    registered : bool
    """
    return ESTIMATORS.get(type(estimator).__name__) is type(estimator)
