"""Prosecute: value operators' counterfeit sales, check statutory thresholds, build evidenced leads."""
