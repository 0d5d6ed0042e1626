"""The core every part uses: errors, redaction, measurements, bounded commands, ports, durations, tools, markers."""
