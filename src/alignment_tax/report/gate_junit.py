"""The gate as JUnit XML: one test case per check, a failure for each check that fails, for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from alignment_tax.analysis.gate import GateReport
from alignment_tax.report.gate_text import describe, level_note


def junit_xml(report: GateReport) -> str:
    """A ``testsuites`` document with one ``testsuite`` (the run) and a ``testcase`` per check, named
    ``CONFIG.MEASURE``; a failing check carries a ``failure`` whose message is the check's line."""
    failures = sum(not check.passed for check in report.checks)
    tests, failed = str(len(report.checks)), str(failures)
    root = ET.Element("testsuites", name="altax gate", tests=tests, failures=failed)
    suite = ET.SubElement(root, "testsuite", name=f"altax gate {report.run_id}", tests=tests, failures=failed)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run", report.run_id), ("detector", report.detector), ("level", level_note(report))):
        ET.SubElement(properties, "property", name=name, value=value)
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname=f"altax.gate.{check.config}", name=check.measure)
        line = describe(check, report)
        if check.passed:
            ET.SubElement(case, "system-out").text = line
        else:
            ET.SubElement(case, "failure", message=line, type="NonInferiority").text = line
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
