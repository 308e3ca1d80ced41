"""The manifest schemas ehkeys has shipped, by the SHA-256 of their text as written: a file that
holds one of them, byte for byte, is ehkeys' own, unedited, and a newer ehkeys may replace it
(`schemafile`). A file with ehkeys' `$id` and any other text was edited by someone: it is kept.

A change to schemas/manifest.schema.json adds the new version's digest at the end (`sha256sum
schemas/manifest.schema.json`), every earlier one staying: tests/manifest/test_schema_file.py
fails until it is there. Each is named by the commit that made it."""

from __future__ import annotations

MANIFEST_SCHEMAS = frozenset(
    {
        "d84324f8fbccad10c0d2d121931d02a27731315a50820494d5cddedfeec53ed9",  # 79727a1
        "953048418e1f78f6ba0c192cbc22593fbaeb1184c15bfa8c8a67f89e5322f807",  # 4a4d481
        "cb8fe9e08916d72932aad05b87a212077cc7c8e7d8e492a67e06ba3155333723",  # 3c594c7
        "103808535b8a6220366e37fb7b5123f9860e3124a9190a7fe83793092581c4e8",  # 24bb0ab
        "c0f0e59382e4b9cfdaede4170c4561ed6ad49f38f3c70298c25cfdb2846b87ba",  # bb535e8
        "2a387810fa4e7b842170730acf7405cc9a3bf807ed1c480b3d4a1f4158a6834d",  # d9fbf96
        "ad69612e60975920cb85b10d2f1e99cdf1034ff0ad41362991e1dca3feb79868",  # 7f2cfd8
        "5ef03047890d3384ce01e7527cfa6e10bbfdb130e198eb7212bd4ace1ab8c692",  # 67b04c3
        "d89dba7c5b46c5b4dce9e591b9dc9368beb58400aea49a04dec787f699f0f53b",  # 73e0b08
        "0739788347ab99a6548bfb2b569c42ca5dd5a7aa55ba613bbf4eff686c5e3f58",  # 9bfcdf3
        "fec610bc13e60bc0593bbab13d5fdf043f573823f270ab98787f8dbc7fc4b903",  # 73f3629
        "140f2dacd5516a42903d41a36d29b0b4574a2c24a5095249e5bfa664a50c801c",  # 14d6cdb
        "8ff33c02e144a4f057172706924cbc743bdd4ffc0f3fbd3ebbe2119672e6793f",  # 3be7437
        "30685969b5d41c75ee8f89156ddab06229d583e3608b1bd95242a978c4c84fb0",  # 9ab9c00
        "17ed2bf1cc417463a023d9c73b7d006ff3b67adfcd81bc4c34e81b5c609dd91c",  # 2bbc511
        "55ae542e93e3ed2a328b921dad27d6addf28ce5b390cc5c60e2301fce12ae61a",  # fc0d361 (a file's kinds, anyOf)
        "6eab8df3a17bd0760fd4f21a5a66199bf6d15e584204168588dba2d1ef555625",  # regex (name_pattern: RE2)
    }
)
