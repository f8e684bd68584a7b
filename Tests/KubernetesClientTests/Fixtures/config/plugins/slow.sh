#!/bin/sh
exec sleep 20
