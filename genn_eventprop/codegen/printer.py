"""One expression printer for every target: sympy expressions to C-family code, with shared subexpressions."""
from __future__ import annotations

from typing import Dict, List, Sequence

import sympy as sp
from sympy.printing.c import C99CodePrinter


class ExpressionPrinter(C99CodePrinter):
    """C99/C++ expressions in double precision: exp(), pow() for non-integer powers, small integer powers as
    products (pow() is a library call per evaluation, and these sit in per-event code)."""

    def _print_Pow(self, expr):
        base, exp = expr.as_base_exp()
        if exp.is_Integer and 2 <= abs(int(exp)) <= 4:
            b = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Mul"])
            product = "*".join([b] * abs(int(exp)))
            return f"({product})" if exp > 0 else f"(1.0/({product}))"
        if exp == -1:
            return f"(1.0/{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Mul'])})"
        return super()._print_Pow(expr)


    def _print_Piecewise(self, expr):
        """One line of nested conditionals (the C99 printer breaks them over lines)."""
        *pieces, (last, cond) = expr.args
        if cond != True:   # noqa: E712 (sympy's true)
            raise ValueError(f"{expr}: a piecewise expression needs a last piece that always holds")
        text = self._print(last)
        for value, c in reversed(pieces):
            text = f"(({self._print(c)}) ? ({self._print(value)}) : ({text}))"
        return text


_printer = ExpressionPrinter()


def print_expr(expr, rename: Dict[sp.Symbol, str] = None) -> str:
    """Print one expression; rename maps symbols to the names they have in the target code."""
    expr = sp.sympify(expr)
    if rename:
        expr = expr.xreplace({s: sp.Symbol(n) for s, n in rename.items()})
    return _printer.doprint(expr)


def print_assignments(targets: Sequence[str], exprs: Sequence[sp.Expr], rename: Dict[sp.Symbol, str] = None,
                      temp_prefix: str = "c", temp_type: str = "const double") -> List[str]:
    """Lines assigning exprs to targets, common subexpressions hoisted into named temporaries."""
    exprs = [sp.sympify(e) for e in exprs]
    if rename:
        exprs = [e.xreplace({s: sp.Symbol(n) for s, n in rename.items()}) for e in exprs]
    temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(temp_prefix), optimizations="basic")
    lines = [f"{temp_type} {sym} = {_printer.doprint(val)};" for sym, val in temps]
    lines += [f"{tgt} = {_printer.doprint(val)};" for tgt, val in zip(targets, reduced)]
    return lines

