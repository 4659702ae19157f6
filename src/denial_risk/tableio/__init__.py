"""Table I/O under every room that reads or writes a table: output formats, atomic paths, the
TableWriter (CSV cells neutralised), input and output checks, memory handed back between chunks."""
