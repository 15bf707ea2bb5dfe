#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildControlPlaneApp } from '../lib/control-plane-app';

buildControlPlaneApp(new App());
