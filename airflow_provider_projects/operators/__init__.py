"""Operators that change projects; they run their write on the worker and push the result to XCom."""
